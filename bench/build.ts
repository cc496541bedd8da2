// The compiled gateway every bench runs (what production runs: plain JavaScript, no tsx), built with
// tsc into .bench-build/ so a stale dist/ never shadows the sources for `npm start`.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const BENCH_BUILD = '.bench-build';

/** Compiles src/ into ROOT/.bench-build (always, or only when missing with `ifMissing`). */
export function compileGateway(root: string, opts: { ifMissing?: boolean } = {}): void {
  if (opts.ifMissing && existsSync(join(root, BENCH_BUILD, 'main.js'))) return;
  execFileSync(
    process.execPath,
    ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', '--outDir', BENCH_BUILD, '--sourceMap', 'false'],
    { cwd: root, stdio: 'inherit' },
  );
}

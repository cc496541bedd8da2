// How a conformance CLI (@modelcontextprotocol/conformance, or the 0.2 alpha as conformance-next) is
// started: the node arguments that run its bundle, dist/index.js.
//
// On Node 20 the bundle does not link as published (it imports fs.globSync, Node >= 22). The loader
// hook (node20-loader.mjs) rewrites that import at load time, but a hook costs each start a hooks
// thread and a hop to it for every module the CLI imports (~0.25 s of CPU a run; the suite runs the
// CLIs 9 times). With this run's compiled copy (TOLLGATE_TEST_BUILD, test/setup/global.ts) the
// rewritten bundle is written there once instead and started as a plain file: packages resolve
// through the copy's node_modules link, and what the CLI reads beside its bundle (the package's
// requirements/ and package.json) is linked next to it. Without that copy, the loader, as before.
import fs from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDir } from '../helpers/compiled.js';
import { rewriteGlobSyncImport } from './glob-sync-shim.mjs';

export const NODE20_LOADER = join(dirname(fileURLToPath(import.meta.url)), 'node20-loader.mjs');

/** Node arguments that run the CLI of the package installed at `packageDir`; `name` names its copy. */
export function conformanceNodeArgs(packageDir: string, name: string): string[] {
  const entry = join(packageDir, 'dist', 'index.js');
  if ('globSync' in fs) return [entry]; // Node >= 22: links as published
  const build = buildDir();
  if (!build) return ['--import', NODE20_LOADER, entry];
  const copyDir = join(build, 'conformance-cli', name);
  const copy = join(copyDir, 'dist', 'index.js');
  if (!fs.existsSync(copy)) {
    fs.mkdirSync(join(copyDir, 'dist'), { recursive: true });
    for (const beside of ['package.json', 'requirements']) {
      if (!fs.existsSync(join(packageDir, beside))) continue;
      try {
        fs.symlinkSync(join(packageDir, beside), join(copyDir, beside));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another test file made it
      }
    }
    // Written whole, then renamed: a file starting the same CLI meanwhile never reads half of it.
    const partial = `${copy}.${process.pid}`;
    fs.writeFileSync(partial, rewriteGlobSyncImport(fs.readFileSync(entry, 'utf8')));
    fs.renameSync(partial, copy);
  }
  return [copy];
}

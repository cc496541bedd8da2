// How a test starts the gateway or a fixture as a child process.
//
// test/setup/global.ts compiles src/ and test/fixtures/ once per `vitest run` and names the folder in
// TOLLGATE_TEST_BUILD; these helpers map a source path onto that copy, so a child starts as plain
// `node file.js` (no tsx compile per process). Outside vitest (bench/soak.ts) or when that build
// failed, they fall back to the TypeScript sources through tsx: same behaviour, slower start.
//
//   spawnListening(['bin/tollgate.mjs', 'serve', '--config', file])      // helpers/spawn.ts maps it
//   spawn(process.execPath, [...nodeArgs('test/fixtures/limits-worker.ts'), 'arg'])
//   `feat: { transport: stdio, command: node, args: [${nodeArgsYaml(FEATURE_SERVER)}, --stdio] }`
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUILD_ENV = 'TOLLGATE_TEST_BUILD';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The MCP server fixture most tests put behind the gateway. */
export const FEATURE_SERVER = 'test/fixtures/feature-server.ts';

/** The folder of the compiled copy, when this run has one. */
export function buildDir(): string | undefined {
  return process.env[BUILD_ENV] || undefined;
}

/**
 * Node arguments that run `file`, a path in the repo (relative to its root, or absolute): `bin/tollgate.mjs`,
 * `src/main.ts`, a `test/fixtures/*.ts`, or any other script.
 */
export function nodeArgs(file: string): string[] {
  const rel = relative(ROOT, resolve(ROOT, file));
  const build = buildDir();
  if (rel === join('bin', 'tollgate.mjs')) return [build ? join(build, 'bin', 'tollgate.mjs') : join(ROOT, rel)];
  if (!/\.tsx?$/.test(rel)) return [file];
  if (build && (rel.startsWith(`src/`) || rel.startsWith('test/fixtures/'))) {
    return [join(build, rel.replace(/\.tsx?$/, '.js'))];
  }
  return ['--import', 'tsx', file];
}

/** nodeArgs(file) as the items of a YAML flow sequence, for `args: [${nodeArgsYaml(file)}, --stdio]`. */
export function nodeArgsYaml(file: string): string {
  return nodeArgs(file)
    .map((a) => JSON.stringify(a))
    .join(', ');
}

// Vitest globalSetup: runs once per `vitest run`, before any test file, in the main process.
//
// 1. A private temporary folder for the whole run: TMPDIR points into it, so every mkdtemp of a test,
//    a gateway, a fixture or a child process (audit files, pin files, conformance results, Chromium
//    profiles, Redis Cluster folders) lands there, and teardown removes it even when a test crashed
//    before its own cleanup. Two runs never share a path.
// 2. One compiled copy of the gateway and the test fixtures (esbuild, ~1 s): spawned processes run
//    plain JavaScript instead of compiling TypeScript through tsx at every start, which cost ~1 s of
//    CPU per child and, on a loaded machine, several seconds of wall time (and made slow starts hit
//    the gateway's 10 s discovery cap). test/helpers/compiled.ts maps source paths onto this copy.
//
// Both are handed to the test workers (and their children) through the environment; the workers are
// forked after this runs.
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILD_ENV } from '../helpers/compiled.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** TypeScript sources of what a test may start as a process: the gateway, the fixtures (and helpers they import). */
function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.tsx?$/.test(f) && !/\.test\.tsx?$/.test(f))
    .map((f) => join(dir, f));
}

async function buildGateway(out: string): Promise<void> {
  // esbuild is what tsx itself compiles with (tsx is a dependency): resolve it from tsx, no new dependency.
  const fromTsx = createRequire(createRequire(join(ROOT, 'package.json')).resolve('tsx'));
  const esbuild = (await import(fromTsx.resolve('esbuild'))) as typeof import('esbuild');
  await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [...sources('src'), ...sources('test/fixtures'), ...sources('test/helpers')],
    outdir: out,
    outbase: '.',
    bundle: false, // file for file, like tsc: import.meta.url and relative imports stay as in the sources
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'inline', // stack traces of a crashing child point at the .ts lines
    tsconfig: join(ROOT, 'tsconfig.json'),
    logLevel: 'warning',
  });
  await esbuild.stop(); // its service process would otherwise live until vitest exits
  // Packages resolve through a node_modules link; the folder is an ES module package like the repo.
  symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'), 'dir');
  writeFileSync(join(out, 'package.json'), '{ "type": "module" }\n');
  // The real bin script, next to a dist/ it finds: `node <out>/bin/tollgate.mjs` is what an operator runs.
  mkdirSync(join(out, 'bin'));
  copyFileSync(join(ROOT, 'bin', 'tollgate.mjs'), join(out, 'bin', 'tollgate.mjs'));
  symlinkSync('src', join(out, 'dist'), 'dir');
}

export default async function setup(): Promise<() => void> {
  const run = mkdtempSync(join(tmpdir(), 'tollgate-run-'));
  // Traversable by others (not listable): the image smoke test runs the gateway as the image's
  // non-root user from a folder inside this run's TMPDIR; mkdtemp makes it 0700.
  chmodSync(run, 0o711);
  const build = join(run, 'build');
  const tmp = join(run, 'tmp');
  mkdirSync(tmp);
  const started = performance.now();
  try {
    await buildGateway(build);
    process.env[BUILD_ENV] = build;
    console.log(`[tests] gateway compiled for child processes in ${Math.round(performance.now() - started)} ms`);
  } catch (err) {
    // Not fatal: the helpers fall back to tsx (slower, same behaviour).
    console.warn(`[tests] could not compile the gateway (${(err as Error).message}); children run through tsx`);
  }
  process.env.TMPDIR = tmp;
  return () => {
    rmSync(run, { recursive: true, force: true });
  };
}

// Vitest globalSetup: runs once per `vitest run`, before any test file, in the main process.
//
// 1. A private temporary folder for the whole run: TMPDIR points into it, so every mkdtemp of a test,
//    a gateway, a fixture or a child process (audit files, pin files, conformance results, Chromium
//    profiles, Redis Cluster folders) lands there, and teardown removes it even when a test crashed
//    before its own cleanup. Two runs never share a path.
// 2. One compiled copy of the gateway and the test fixtures (esbuild, 1–2 s): spawned processes run
//    plain JavaScript instead of compiling TypeScript through tsx at every start, which cost ~1 s of
//    CPU per child and, on a loaded machine, several seconds of wall time (and made slow starts hit
//    the gateway's 10 s discovery cap). The entries children start from are bundled (bundleEntries).
//    test/helpers/compiled.ts maps source paths onto this copy.
//
// Both are handed to the test workers (and their children) through the environment; the workers are
// forked after this runs.
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
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

type Esbuild = typeof import('esbuild');

/**
 * Keeps packages out of a bundle (imported from node_modules at run time), but those `inline` matches
 * and, with `withDependencies`, whatever they import in turn.
 */
function externalPackages(inline: RegExp, withDependencies = false): import('esbuild').Plugin {
  return {
    name: 'external-packages',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (a) => {
        if (a.path.startsWith('node:')) return { path: a.path, external: true };
        if (inline.test(a.path) || (withDependencies && a.importer.includes('/node_modules/'))) return undefined;
        return { path: a.path, external: true };
      });
    },
  };
}

/**
 * What child processes start from, bundled: loading a few hundred small modules is most of a start's
 * CPU (measured per start: the gateway's `serve` ~0.95 -> ~0.8 s, feature-server ~0.32 -> ~0.19 s),
 * and the suite starts hundreds of them.
 * - The gateway's entry (src/main.js, which bin/tollgate.mjs runs through dist/): src/ in one file plus
 *   a chunk per command it imports when run, so `--help` stays as light as the sources make it. npm
 *   packages stay external: they load from node_modules as they do in the image.
 * - Each fixture, with the MCP SDKs, zod and what they import inlined (fixtures are stand-ins, not what
 *   ships); other packages stay external (some find files next to their own modules).
 * Both overwrite the file-for-file output of the same path (the rest of that copy stays for whatever
 * imports it). In a bundle a module's import.meta.url is its bundle's or chunk's, in the same folder
 * tree: src/ uses it only to resolve packages and, in main.ts, for the quickstart's path, which the
 * bundle's entry keeps at src/main.js; a fixture that checks it to know it is the main module is an
 * entry that no other fixture imports, so its code stays in its own file.
 */
async function bundleEntries(esbuild: Esbuild, out: string): Promise<void> {
  const common = {
    absWorkingDir: ROOT,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'inline',
    tsconfig: join(ROOT, 'tsconfig.json'),
    logLevel: 'warning',
  } as const;
  await Promise.all([
    esbuild.build({
      ...common,
      entryPoints: ['src/main.ts'],
      outdir: join(out, 'src'),
      outbase: 'src',
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
      plugins: [externalPackages(/^$/)],
    }),
    esbuild.build({
      ...common,
      entryPoints: fixtureEntries(),
      outdir: join(out, 'test/fixtures'),
      outbase: 'test/fixtures',
      splitting: true, // the SDKs once, in chunks the fixtures share: half the build time
      chunkNames: 'chunks/[name]-[hash]',
      sourcemap: false, // megabytes per fixture, for stack traces nobody asks for (no --enable-source-maps)
      plugins: [externalPackages(/^(@modelcontextprotocol\/(sdk|server)|zod)(\/|$)/, true)],
      // Inlined CommonJS modules (ajv, …) require node's own modules: ESM has no `require` of its own.
      banner: {
        js: 'import { createRequire as __fixtureRequire } from "node:module"; const require = __fixtureRequire(import.meta.url);',
      },
    }),
  ]);
}

/** The fixtures a test starts as a process: every test/fixtures/*.ts that no other fixture imports. */
function fixtureEntries(): string[] {
  const dir = join(ROOT, 'test/fixtures');
  const files = readdirSync(dir).filter((f) => /\.ts$/.test(f));
  const imported = new Set(
    files.flatMap((f) =>
      [...readFileSync(join(dir, f), 'utf8').matchAll(/from '\.\/([\w.-]+)\.js'/g)].map((m) => `${m[1]}.ts`),
    ),
  );
  return files.filter((f) => !imported.has(f)).map((f) => join('test/fixtures', f));
}

async function buildGateway(out: string): Promise<void> {
  // esbuild is what tsx itself compiles with (tsx is a dependency): resolve it from tsx, no new dependency.
  const fromTsx = createRequire(createRequire(join(ROOT, 'package.json')).resolve('tsx'));
  const esbuild = (await import(fromTsx.resolve('esbuild'))) as Esbuild;
  try {
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
    await bundleEntries(esbuild, out);
  } finally {
    await esbuild.stop(); // its service process would otherwise live until vitest exits
  }
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

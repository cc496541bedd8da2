// A page script for real Chromium: a TypeScript entry (test/fixtures/…) and what it imports from
// node_modules (the MCP SDK), bundled into one ES module the way a web app ships it.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The bundled JavaScript of `entry` (a path relative to the repo root). */
export async function bundleForBrowser(entry: string): Promise<string> {
  // esbuild comes with tsx, as in test/setup/global.ts: no dependency of its own.
  const fromTsx = createRequire(createRequire(join(ROOT, 'package.json')).resolve('tsx'));
  const esbuild = (await import(fromTsx.resolve('esbuild'))) as typeof import('esbuild');
  const built = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    bundle: true,
    platform: 'browser', // the packages' browser builds (pkce-challenge uses Web Crypto there)
    format: 'esm',
    target: 'chrome120',
    write: false,
    tsconfig: join(ROOT, 'tsconfig.json'),
    logLevel: 'warning',
  });
  const js = built.outputFiles[0]?.text;
  if (js === undefined) throw new Error(`esbuild produced nothing for ${entry}`);
  return js;
}

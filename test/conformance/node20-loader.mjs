/**
 * Node 20 shim for @modelcontextprotocol/conformance.
 *
 *   node --import ./test/conformance/node20-loader.mjs node_modules/@modelcontextprotocol/conformance/dist/index.js ...
 *
 * The bundled CLI does `import { ..., globSync as X, ... } from "fs"`. `fs.globSync`
 * only exists from Node 22, so on Node 20 the whole CLI fails to link (SyntaxError:
 * missing export), although only the `tier-check` subcommand uses it. This file
 * registers a `load` hook that drops `globSync` from that import and defines X as a
 * stub that throws if ever called. It is a no-op where `fs.globSync` exists.
 *
 * The same file is both the registrar (main thread, via --import) and the hooks
 * module (loaded by Node on the hooks thread). The tests start the CLIs from a copy
 * rewritten once per run instead, when they can (cli-entry.ts): no hooks thread.
 */
import fs from 'node:fs';
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { rewriteGlobSyncImport } from './glob-sync-shim.mjs';

export { rewriteGlobSyncImport };

const NEEDS_SHIM = typeof fs.globSync !== 'function';
const TARGET = /\/(@modelcontextprotocol\/conformance|conformance-next)\/dist\/.*\.m?js$/; // 0.1.x and the 0.2 alpha (installed under an alias)
export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (!NEEDS_SHIM || !TARGET.test(url) || result.format !== 'module' || result.source == null) return result;
  const source = typeof result.source === 'string' ? result.source : Buffer.from(result.source).toString('utf8');
  return { ...result, source: rewriteGlobSyncImport(source) };
}

if (isMainThread && NEEDS_SHIM) {
  register(import.meta.url);
}

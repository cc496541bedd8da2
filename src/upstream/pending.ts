// A session's requests awaiting their answer, which one a message tied to no request belongs to, and how a settled one lets go of its request; separate so session.ts keeps to the session.
import type { JsonRpcMessage, JsonRpcResponse } from '../mcp/jsonrpc.js';

export interface Pending {
  resolve(r: JsonRpcResponse): void;
  reject(e: Error): void;
  onRelated: ((msg: JsonRpcMessage) => void) | undefined;
  /** Re-arms the idle deadline; called on progress. */
  touch(): void;
}

/**
 * stdio and legacy SSE cannot say which request a server request belongs to. When exactly one
 * request in flight listens for related messages, it is unambiguous; otherwise we must not guess
 * (a wrong guess would show one agent's sampling request to another).
 */
export function soleListener(pending: ReadonlyMap<number, Pending>): Pending | undefined {
  let found: Pending | undefined;
  for (const p of pending.values()) {
    if (!p.onRelated) continue;
    if (found) return undefined;
    found = p;
  }
  return found;
}

const ignore = (): void => undefined;

/**
 * A settled request's entry lets go of the request. V8 allocates a Map's next table in the old
 * generation once its table is there, and a table it replaces keeps pointing at the entries it held
 * until a full GC: a live entry's whole request (closures, agent exchange, HTTP objects) was then
 * promoted with it, ~1.5 MB per young-generation GC, with 7 ms pauses (docs/benchmark-history.md, session 7).
 */
export function letGo(entry: Pending): void {
  entry.resolve = entry.reject = entry.touch = ignore;
  entry.onRelated = undefined;
}

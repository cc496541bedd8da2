// A session's requests awaiting their answer, and which one a message tied to no request belongs to; separate so session.ts keeps to the session.
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

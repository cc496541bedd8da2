// JSON-RPC 2.0 message shapes as the relay sees them: checked by hand once per message (no zod on
// the hot path), then passed along as plain objects.
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';

export type { RequestId };

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: RequestId;
  method: string;
  params?: Record<string, unknown>;
}
export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}
export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}
export interface JsonRpcResult {
  jsonrpc: '2.0';
  id: RequestId;
  result: Record<string, unknown>;
}
export interface JsonRpcError {
  jsonrpc: '2.0';
  id: RequestId | null;
  error: JsonRpcErrorObject;
}
export type JsonRpcResponse = JsonRpcResult | JsonRpcError;
export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

export const isRequest = (m: JsonRpcMessage): m is JsonRpcRequest => 'method' in m && 'id' in m;
export const isNotification = (m: JsonRpcMessage): m is JsonRpcNotification => 'method' in m && !('id' in m);
export const isResponse = (m: JsonRpcMessage): m is JsonRpcResponse => !('method' in m);
export const isErrorResponse = (m: JsonRpcMessage): m is JsonRpcError => 'error' in m && !('method' in m);

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const isId = (v: unknown): v is RequestId =>
  (typeof v === 'string' && v.length <= 256) || (typeof v === 'number' && Number.isSafeInteger(v));

/** Returns the message, or a reason it is not a valid JSON-RPC 2.0 message. */
export function validateMessage(v: unknown): JsonRpcMessage | string {
  if (!isObject(v)) return 'message must be a JSON object';
  if (v.jsonrpc !== '2.0') return 'jsonrpc must be "2.0"';
  const hasId = 'id' in v;
  if (hasId && !isId(v.id) && !(v.id === null && 'error' in v)) {
    return 'id must be a string (≤256 chars) or a safe integer';
  }
  if ('method' in v) {
    if (typeof v.method !== 'string' || v.method.length === 0 || v.method.length > 256) {
      return 'method must be a non-empty string';
    }
    if ('params' in v && v.params !== undefined && !isObject(v.params)) return 'params must be an object';
    if ('result' in v || 'error' in v) return 'a request cannot carry result or error';
    return v as unknown as JsonRpcMessage;
  }
  if (!hasId) return 'message has neither method nor id';
  if ('result' in v) {
    if (!isObject(v.result)) return 'result must be an object';
    return v as unknown as JsonRpcMessage;
  }
  if ('error' in v) {
    const e = v.error;
    if (!isObject(e) || typeof e.code !== 'number' || typeof e.message !== 'string') {
      return 'error must be {code: number, message: string}';
    }
    return v as unknown as JsonRpcMessage;
  }
  return 'response has neither result nor error';
}

export const resultMessage = (id: RequestId, result: Record<string, unknown>): JsonRpcResult => ({
  jsonrpc: '2.0',
  id,
  result,
});

export const errorMessage = (id: RequestId | null, error: JsonRpcErrorObject): JsonRpcError => ({
  jsonrpc: '2.0',
  id,
  error,
});

/** The `_meta.progressToken` of a request's params, if any. */
export function progressTokenOf(params: Record<string, unknown> | undefined): string | number | undefined {
  const meta = params?._meta;
  if (!isObject(meta)) return undefined;
  const t = meta.progressToken;
  return typeof t === 'string' || typeof t === 'number' ? t : undefined;
}

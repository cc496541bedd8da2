// HTTP-level failures in the protocol's own shape: a status plus a JSON-RPC error body.
import type { Context } from 'hono';
import { GatewayError, type ErrorKind } from '../errors.js';
import type { RequestId } from '../mcp/jsonrpc.js';

export function errorResponse(
  c: Context,
  kind: ErrorKind,
  message: string,
  extraHeaders: Record<string, string> = {},
  id: RequestId | null = null,
): Response {
  const err = new GatewayError(kind, message);
  const requestId = (c.var as { requestId?: string }).requestId;
  return c.body(JSON.stringify(err.toJsonRpc(id)), err.httpStatus as 400, {
    'content-type': 'application/json',
    ...(requestId ? { 'x-request-id': requestId } : {}),
    ...extraHeaders,
  });
}

/** A GatewayError as the HTTP answer; a numeric `retryAfterSeconds` in its data becomes Retry-After. */
export function gatewayErrorResponse(c: Context, err: GatewayError, id: RequestId | null = null): Response {
  const requestId = (c.var as { requestId?: string }).requestId;
  const retry = err.data?.retryAfterSeconds;
  return c.body(JSON.stringify(err.toJsonRpc(id)), err.httpStatus as 400, {
    'content-type': 'application/json',
    ...(requestId ? { 'x-request-id': requestId } : {}),
    ...(typeof retry === 'number' ? { 'retry-after': String(retry) } : {}),
  });
}

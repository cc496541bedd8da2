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

export function gatewayErrorResponse(c: Context, err: GatewayError, id: RequestId | null = null): Response {
  const requestId = (c.var as { requestId?: string }).requestId;
  return c.body(JSON.stringify(err.toJsonRpc(id)), err.httpStatus as 400, { 'content-type': 'application/json', ...(requestId ? { 'x-request-id': requestId } : {}) });
}

// Refuses bodies whose Content-Length exceeds the cap before anything reads them (413 with a
// JSON-RPC error body). Bodies without Content-Length are capped while read (see readBody).
import type { MiddlewareHandler } from 'hono';
import { errorResponse } from './respond.js';
import { headerOf } from './node-io.js';

export function bodyLimit(opts: { maxBytes: number }): MiddlewareHandler {
  if (!Number.isInteger(opts.maxBytes) || opts.maxBytes <= 0)
    throw new Error('bodyLimit: maxBytes must be a positive integer');
  // Not async: passing a request on must not cost a promise of its own (hot path).
  return (c, next) => {
    const declared = headerOf(c, 'content-length');
    if (declared !== undefined && Number(declared) > opts.maxBytes) {
      return Promise.resolve(
        errorResponse(c, 'payload_too_large', `Payload Too Large: the body exceeds ${opts.maxBytes} bytes`),
      );
    }
    return next();
  };
}

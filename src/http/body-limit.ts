// Caps request bodies before they are read whole; answers 413 with a JSON-RPC error body.
import type { MiddlewareHandler } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import { errorResponse } from './respond.js';

export function bodyLimit(opts: { maxBytes: number }): MiddlewareHandler {
  if (!Number.isInteger(opts.maxBytes) || opts.maxBytes <= 0) throw new Error('bodyLimit: maxBytes must be a positive integer');
  return honoBodyLimit({
    maxSize: opts.maxBytes,
    onError: (c) => errorResponse(c, 'payload_too_large', `Payload Too Large: the body exceeds ${opts.maxBytes} bytes`),
  });
}

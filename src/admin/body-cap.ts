// The admin routes' body cap. Their own forms and JSON are a few KiB and the routes that read them
// cap them smaller still, but a route that never reads its body (policy reload, logout, revocations)
// would otherwise let Node drain whatever is sent. So every admin request is refused with 413 once
// its body is over the cap: at once when Content-Length says so (nothing is read), and while it is
// read when it comes without one (chunked: read here, before the route). The connection is closed
// after a 413, so the rest of the body is never read. A chunked body is read before credentials,
// so only ADMIN_KEEP_BYTES of it are kept for the route: a larger one is counted to the cap and
// dropped (no admin route reads that much), so nobody can make the gateway hold 1 MiB per request.
import type { Context, MiddlewareHandler } from 'hono';
import { GatewayError } from '../errors.js';
import { headerOf, readAhead } from '../http/node-io.js';
import { errorResponse } from '../http/respond.js';

/** The default cap: far above any admin form or JSON request. */
export const ADMIN_MAX_BODY_BYTES = 1024 * 1024;

/** What a chunked body may keep for its route: above the largest any admin route reads (8 KiB forms). */
export const ADMIN_KEEP_BYTES = 64 * 1024;

export function adminBodyCap(maxBytes = ADMIN_MAX_BODY_BYTES, keepBytes = ADMIN_KEEP_BYTES): MiddlewareHandler {
  const refuse = (c: Context): Response =>
    errorResponse(c, 'payload_too_large', `Payload Too Large: an admin request body is limited to ${maxBytes} bytes`, {
      connection: 'close',
    });
  return async (c, next) => {
    const declared = headerOf(c, 'content-length');
    if (declared !== undefined) {
      if (Number(declared) > maxBytes) return refuse(c);
      return next();
    }
    // HTTP/1.1: no Content-Length and no Transfer-Encoding means no body at all.
    if (headerOf(c, 'transfer-encoding') === undefined) return next();
    try {
      await readAhead(c, maxBytes, Math.min(keepBytes, maxBytes));
    } catch (err) {
      if (err instanceof GatewayError && err.kind === 'payload_too_large') return refuse(c);
      throw err;
    }
    return next();
  };
}

// Admin credentials are separate from agent credentials: an agent key never opens the admin API.
// Accepted as `Authorization: Bearer <token>` (API, CLI) or the HttpOnly cookie set by the login
// form (the web page). Tokens are compared as SHA-256 digests.
import { createHash } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { errorResponse } from '../http/respond.js';
import { headerOf } from '../http/node-io.js';

export const ADMIN_COOKIE = 'tollgate_admin';

const digest = (s: string): string => `sha256:${createHash('sha256').update(s).digest('hex')}`;

export interface AdminAuthOptions {
  /** Plaintext tokens (from env) and/or `sha256:` hashes. */
  tokens: readonly string[];
  tokenHashes: readonly string[];
}

export function adminTokenChecker(opts: AdminAuthOptions): (token: string | undefined) => boolean {
  const hashes = new Set([...opts.tokens.map(digest), ...opts.tokenHashes]);
  return (token) => token !== undefined && token.length > 0 && hashes.has(digest(token));
}

export function adminAuth(opts: AdminAuthOptions & { page: boolean }): MiddlewareHandler {
  if (opts.tokens.length + opts.tokenHashes.length === 0) throw new Error('adminAuth: no admin tokens configured');
  const valid = adminTokenChecker(opts);
  return async (c, next) => {
    const header = headerOf(c, 'authorization');
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : getCookie(c, ADMIN_COOKIE);
    if (valid(token)) return next();
    if (opts.page) return c.redirect('/admin/login', 303);
    return errorResponse(c, 'unauthorized', 'admin credential required', {
      'www-authenticate': 'Bearer realm="tollgate-admin"',
    });
  };
}

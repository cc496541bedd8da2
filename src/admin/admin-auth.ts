// Admin credentials are separate from agent credentials: an agent key never opens the admin API.
// Accepted as `Authorization: Bearer <token>` (API, CLI), compared in constant time, or as the
// HttpOnly session cookie the login form sets (the web page; see admin-session.ts).
import type { MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { errorResponse } from '../http/respond.js';
import { headerOf } from '../http/node-io.js';
import { bearerOf, type OperatorTokens } from '../auth/operator-tokens.js';
import type { AdminSessions } from './admin-session.js';

export const ADMIN_COOKIE = 'tollgate_admin';

export interface AdminAuthOptions {
  tokens: OperatorTokens;
  sessions: AdminSessions;
  /** The page redirects to the login form; the API answers 401. */
  page: boolean;
}

export function adminAuth(opts: AdminAuthOptions): MiddlewareHandler {
  if (opts.tokens.digests.length === 0) throw new Error('adminAuth: no admin tokens configured');
  return async (c, next) => {
    const header = headerOf(c, 'authorization');
    const ok =
      header?.startsWith('Bearer ') === true
        ? opts.tokens.match(bearerOf(header)) >= 0
        : opts.sessions.valid(getCookie(c, ADMIN_COOKIE));
    if (ok) return next();
    if (opts.page) return c.redirect('/admin/login', 303);
    return errorResponse(c, 'unauthorized', 'admin credential required', {
      'www-authenticate': 'Bearer realm="tollgate-admin"',
    });
  };
}

// Admin credentials are separate from agent credentials: an agent key never opens the admin API.
// Accepted as `Authorization: Bearer <token>` (API, CLI), compared in constant time, or as the
// HttpOnly session cookie the login form sets (the web page; see admin-session.ts). A user signed
// in with their account (user-signin.tsx) is no admin: only the approvals routes ask `approverOf`.
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { errorResponse } from '../http/respond.js';
import { headerOf } from '../http/node-io.js';
import { bearerOf, type OperatorTokens } from '../auth/operator-tokens.js';
import type { ApproverIdentity } from '../approvals/approver.js';
import type { AdminSessions } from './admin-session.js';
import type { OperatorAttempts } from '../auth/operator-attempts.js';

export const ADMIN_COOKIE = 'tollgate_admin';

export interface AdminAuthOptions {
  tokens: OperatorTokens;
  sessions: AdminSessions;
  /** Wrong Bearer tokens count against the request's address (routes.tsx refuses it past the bound). */
  attempts: OperatorAttempts;
  /** The page redirects to the login form; the API answers 401. */
  page: boolean;
}

/**
 * The admin credential a request carries: the token's index (Bearer), `page` (the login's session
 * cookie), or undefined. A Bearer header decides alone: a wrong one is not rescued by a cookie.
 */
function adminCredential(
  c: Context,
  opts: Pick<AdminAuthOptions, 'tokens' | 'sessions' | 'attempts'>,
): number | 'page' | undefined {
  const header = headerOf(c, 'authorization');
  if (header?.startsWith('Bearer ') === true) {
    const presented = bearerOf(header);
    const i = opts.tokens.match(presented);
    if (i < 0 && presented) opts.attempts.failed(c);
    return i >= 0 ? i : undefined;
  }
  return opts.sessions.valid(getCookie(c, ADMIN_COOKIE)) ? 'page' : undefined;
}

export const unauthorized = (c: Context): Response =>
  errorResponse(c, 'unauthorized', 'admin credential required', {
    'www-authenticate': 'Bearer realm="tollgate-admin"',
  });

export function adminAuth(opts: AdminAuthOptions): MiddlewareHandler {
  if (opts.tokens.digests.length === 0) throw new Error('adminAuth: no admin tokens configured');
  return async (c, next) => {
    if (adminCredential(c, opts) !== undefined) return next();
    if (opts.page) return c.redirect('/admin/login', 303);
    return unauthorized(c);
  };
}

/**
 * Who may decide approvals here: an admin token (decides anything; named by its position, never by
 * its value), else the user signed in with their account (`user`), else nobody.
 */
export async function approverOf(
  c: Context,
  opts: Pick<AdminAuthOptions, 'tokens' | 'sessions' | 'attempts'>,
  user: ((c: Context) => Promise<ApproverIdentity | undefined>) | undefined,
): Promise<ApproverIdentity | undefined> {
  const admin = adminCredential(c, opts);
  if (admin !== undefined)
    return { kind: 'admin', id: admin === 'page' ? 'admin (page)' : `admin#${admin + 1}`, groups: [] };
  if (headerOf(c, 'authorization')?.startsWith('Bearer ') === true) return undefined;
  return user?.(c);
}

// People sign in to the admin side with their account (auth.oauth: local users or the company IdP)
// to decide the approvals whose rule names them or one of their groups — nothing else. The admin
// side is a client of the gateway's own authorization server (src/oauth/admin-client.ts):
//
//   GET /admin/oauth/start     → a state and PKCE verifier in a short-lived HttpOnly cookie, then
//                                 /authorize (the one login page, its bounds and CSRF locks)
//   GET /admin/oauth/callback  → state checked against the cookie, the code redeemed inside the
//                                 gateway, a user session cookie (distinct from the admin token's)
//
// The session is kept in the OAuth store and looked up (with the user as the config has them now)
// on every use: removing the user ends it, logout ends it on every instance.
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { ApproverIdentity } from '../approvals/approver.js';
import type { Subject } from '../oauth/grants.js';
import { html } from './html.js';
import { LoginPage, SignedInPage } from './shell.js';

/** What the authorization server gives the admin side (OAuthServer.adminSignIn()). */
export interface AdminSignIn {
  /** The /authorize URL that starts a sign-in with this state and PKCE challenge. */
  authorizeUrl(state: string, challenge: string): string;
  /** The user a code of the admin client names (once; PKCE checked), or undefined. */
  redeem(code: string, verifier: string): Promise<Subject | undefined>;
  /** A new session for the user: the cookie's value. */
  startSession(s: Subject): Promise<string>;
  /** The user of a live session, as the config has them now. */
  sessionOf(sid: string | undefined): Promise<Subject | undefined>;
  endSession(sid: string | undefined): Promise<void>;
  ttlSeconds: number;
}

export const USER_COOKIE = 'tollgate_admin_user';
const SIGNIN_COOKIE = 'tollgate_admin_signin';
/** A sign-in has this long to come back (the login page's own window is auth.oauth.login_ttl). */
const SIGNIN_TTL_S = 15 * 60;
const COOKIE_VALUE = /^([A-Za-z0-9_-]{32})\.([A-Za-z0-9_-]{43})$/;

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The signed-in user as an approver (`user:<sub>` with their groups), or undefined. */
export async function userOf(c: Context, signIn: AdminSignIn): Promise<ApproverIdentity | undefined> {
  const s = await signIn.sessionOf(getCookie(c, USER_COOKIE));
  return s && { kind: 'user', id: s.sub, groups: s.groups };
}

export function mountUserSignIn(app: Hono, signIn: AdminSignIn, secure: (c: Context) => boolean): void {
  app.get('/oauth/start', (c) => {
    const state = randomBytes(24).toString('base64url');
    const verifier = randomBytes(32).toString('base64url');
    // No store entry: whoever opens this link costs nothing until /authorize counts the login.
    // Lax: a company IdP's answer comes back through a cross-site redirect chain.
    setCookie(c, SIGNIN_COOKIE, `${state}.${verifier}`, {
      httpOnly: true,
      sameSite: 'Lax',
      path: '/admin/oauth',
      secure: secure(c),
      maxAge: SIGNIN_TTL_S,
    });
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    return c.redirect(signIn.authorizeUrl(state, challenge), 303);
  });

  app.get('/oauth/callback', async (c) => {
    const m = COOKIE_VALUE.exec(getCookie(c, SIGNIN_COOKIE) ?? '');
    deleteCookie(c, SIGNIN_COOKIE, { path: '/admin/oauth', secure: secure(c) });
    const refused = (error: string) => html(c, <LoginPage accounts error={error} />, 401);
    // Bound to this browser: a code sent here from elsewhere (login CSRF) has no matching cookie.
    if (!m || !same(c.req.query('state') ?? '', m[1] as string))
      return refused('This sign-in is stale or was not started in this browser. Try again.');
    if (c.req.query('error') !== undefined) return refused('The sign-in was refused.');
    const who = await signIn.redeem(c.req.query('code') ?? '', m[2] as string);
    if (!who) return refused('The sign-in could not be completed. Try again.');
    setCookie(c, USER_COOKIE, await signIn.startSession(who), {
      httpOnly: true,
      sameSite: 'Strict',
      path: '/admin',
      secure: secure(c),
      maxAge: signIn.ttlSeconds,
    });
    c.header('refresh', '0;url=/admin/');
    return html(c, <SignedInPage />, 200);
  });
}

/** Logout of a user session: ended in the store (every instance), cookie gone. */
export async function endUserSession(c: Context, signIn: AdminSignIn, secure: boolean): Promise<void> {
  await signIn.endSession(getCookie(c, USER_COOKIE));
  deleteCookie(c, USER_COOKIE, { path: '/admin', secure });
}

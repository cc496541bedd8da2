// The browser side of a first-party sign-in (first-party.ts), one implementation for every page of
// the gateway that signs people in (the admin side, the connections pages):
//
//   GET <base>/oauth/start[?next=…] → a state and PKCE verifier (and where to continue) in a
//                                     short-lived HttpOnly cookie, then /authorize (the one login
//                                     page, its bounds and CSRF locks)
//   GET <base>/oauth/callback       → state checked against the cookie, the code redeemed inside the
//                                     gateway, a session cookie for <base> only
//
// The session is kept in the OAuth store and looked up (with the user as the config has them now)
// on every use: removing the user ends it, logout ends it on every instance.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { FirstPartySignIn } from './first-party.js';
import type { Subject } from './grants.js';

export interface SignInRoutesOptions {
  /** Where the app these routes join is mounted (`/admin`, `/connections`): the cookies' paths. */
  base: string;
  /** Holds state, verifier and where to continue while the login runs (path `<base>/oauth`). */
  signinCookie: string;
  /** The session (path `<base>`). */
  userCookie: string;
  secure(c: Context): boolean;
  /** Where a sign-in continues when it names no (acceptable) `next`. */
  home: string;
  /** A `next` the sign-in may continue to (a path of this app), else undefined: `home`. */
  nextOf?(raw: string): string | undefined;
  /** The sign-in did not complete (stale, refused, a code of another browser): 401. */
  refused(c: Context, message: string): Response | Promise<Response>;
  /** Signed in: the page that continues to `to` (see signedInRefresh). */
  signedIn(c: Context, to: string): Response | Promise<Response>;
}

/** A sign-in has this long to come back (the login page's own window is auth.oauth.login_ttl). */
const SIGNIN_TTL_S = 15 * 60;
/** Browsers keep cookies up to 4096 bytes: a longer `next` is dropped (the sign-in goes `home`). */
const MAX_NEXT_CHARS = 3000;
const COOKIE_VALUE = /^([A-Za-z0-9_-]{32})\.([A-Za-z0-9_-]{43})(?:\.([A-Za-z0-9_-]+))?$/;

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The path that starts a sign-in continuing to `next`. */
export function signInPath(base: string, next?: string): string {
  return `${base}/oauth/start${next === undefined ? '' : `?${new URLSearchParams({ next })}`}`;
}

/** The user of this browser's session cookie, as the config has them now. */
export function sessionUser(c: Context, signIn: FirstPartySignIn, cookie: string): Promise<Subject | undefined> {
  return signIn.sessionOf(getCookie(c, cookie));
}

/** The session cookie's headers and the session ended in the store (every instance). */
export async function endSignInSession(
  c: Context,
  signIn: FirstPartySignIn,
  o: Pick<SignInRoutesOptions, 'base' | 'userCookie'> & { secure: boolean },
): Promise<void> {
  await signIn.endSession(getCookie(c, o.userCookie));
  deleteCookie(c, o.userCookie, { path: o.base, secure: o.secure });
}

/**
 * The answer of a signed-in callback continues to `to` by a refresh, not a redirect: the callback is
 * the end of a redirect chain that may have started on another site (the company IdP), and a
 * SameSite=Strict cookie set there is sent only on a request this site starts.
 */
export function signedInRefresh(c: Context, to: string): void {
  c.header('refresh', `0;url=${to}`);
}

export function mountSignInRoutes(app: Hono, signIn: FirstPartySignIn, o: SignInRoutesOptions): void {
  const oauthPath = `${o.base}/oauth`;

  app.get('/oauth/start', (c) => {
    const state = randomBytes(24).toString('base64url');
    const verifier = randomBytes(32).toString('base64url');
    const raw = c.req.query('next');
    const next = raw === undefined || raw.length > MAX_NEXT_CHARS ? undefined : o.nextOf?.(raw);
    const tail = next === undefined ? '' : `.${Buffer.from(next).toString('base64url')}`;
    // No store entry: whoever opens this link costs nothing until /authorize counts the login.
    // Lax: a company IdP's answer comes back through a cross-site redirect chain.
    setCookie(c, o.signinCookie, `${state}.${verifier}${tail}`, {
      httpOnly: true,
      sameSite: 'Lax',
      path: oauthPath,
      secure: o.secure(c),
      maxAge: SIGNIN_TTL_S,
    });
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    return c.redirect(signIn.authorizeUrl(state, challenge), 303);
  });

  app.get('/oauth/callback', async (c) => {
    const m = COOKIE_VALUE.exec(getCookie(c, o.signinCookie) ?? '');
    deleteCookie(c, o.signinCookie, { path: oauthPath, secure: o.secure(c) });
    // Bound to this browser: a code sent here from elsewhere (login CSRF) has no matching cookie.
    if (!m || !same(c.req.query('state') ?? '', m[1] as string))
      return o.refused(c, 'This sign-in is stale or was not started in this browser. Try again.');
    if (c.req.query('error') !== undefined) return o.refused(c, 'The sign-in was refused.');
    const who = await signIn.redeem(c.req.query('code') ?? '', m[2] as string);
    if (!who) return o.refused(c, 'The sign-in could not be completed. Try again.');
    // A session this browser had (perhaps of someone else) ends with the new one.
    await signIn.endSession(getCookie(c, o.userCookie));
    setCookie(c, o.userCookie, await signIn.startSession(who), {
      httpOnly: true,
      sameSite: 'Strict',
      path: o.base,
      secure: o.secure(c),
      maxAge: signIn.ttlSeconds,
    });
    // Checked again: the cookie is only as trustworthy as what set it (this browser, this site).
    const next = m[3] === undefined ? undefined : o.nextOf?.(Buffer.from(m[3], 'base64url').toString());
    return o.signedIn(c, next ?? o.home);
  });
}

// People sign in to the admin side with their account (auth.oauth: local users or the company IdP)
// to decide the approvals whose rule names them or one of their groups — nothing else. The admin
// side is a first-party client of the gateway's own authorization server (src/oauth/admin-client.ts);
// the start and callback routes are the shared ones (src/oauth/signin-routes.ts), with the admin
// side's own cookies (path /admin) and pages.
import type { Context, Hono } from 'hono';
import type { ApproverIdentity } from '../approvals/approver.js';
import type { FirstPartySignIn } from '../oauth/first-party.js';
import { endSignInSession, mountSignInRoutes, sessionUser, signedInRefresh } from '../oauth/signin-routes.js';
import { html } from './html.js';
import { LoginPage, SignedInPage } from './shell.js';

/** What the authorization server gives the admin side (OAuthServer.adminSignIn()). */
export type AdminSignIn = FirstPartySignIn;

export const USER_COOKIE = 'tollgate_admin_user';
const SIGNIN_COOKIE = 'tollgate_admin_signin';
const BASE = '/admin';

/** The signed-in user as an approver (`user:<sub>` with their groups), or undefined. */
export async function userOf(c: Context, signIn: AdminSignIn): Promise<ApproverIdentity | undefined> {
  const s = await sessionUser(c, signIn, USER_COOKIE);
  return s && { kind: 'user', id: s.sub, groups: s.groups };
}

export function mountUserSignIn(app: Hono, signIn: AdminSignIn, secure: (c: Context) => boolean): void {
  mountSignInRoutes(app, signIn, {
    base: BASE,
    signinCookie: SIGNIN_COOKIE,
    userCookie: USER_COOKIE,
    secure,
    home: `${BASE}/`,
    refused: (c, error) => html(c, <LoginPage accounts error={error} />, 401),
    signedIn: (c, to) => {
      signedInRefresh(c, to);
      return html(c, <SignedInPage />, 200);
    },
  });
}

/** Logout of a user session: ended in the store (every instance), cookie gone. */
export async function endUserSession(c: Context, signIn: AdminSignIn, secure: boolean): Promise<void> {
  await endSignInSession(c, signIn, { base: BASE, userCookie: USER_COOKIE, secure });
}

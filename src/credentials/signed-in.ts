// With auth.oauth, the connections pages know who is at the browser: users sign in through the
// gateway's own login (src/oauth/connections-client.ts; the start and callback routes are the ones
// the admin side uses, src/oauth/signin-routes.ts). A link naming an identity the front door's users
// act as then works only in a browser signed in as that user: a forwarded, logged or overseen link
// connects nothing and shows nothing to anyone else. Other identities (API keys, an external IdP's
// JWTs) have no login here and keep the sealed link alone.
//
// The session cookie is the connections pages' own (path /connections, SameSite=Strict, an hour),
// not the admin side's: each cookie reaches only the pages it is for, and a session of one opens
// nothing of the other (they are separate clients with separate sessions in the store).
import type { Context, Hono } from 'hono';
import { deleteCookie } from 'hono/cookie';
import { html } from 'hono/html';
import type { FirstPartySignIn } from '../oauth/first-party.js';
import type { Subject } from '../oauth/grants.js';
import { mountSignInRoutes, sessionUser, signedInRefresh, signInPath } from '../oauth/signin-routes.js';
import { page } from './page.js';

export interface ConnectionsSignIn {
  flow: FirstPartySignIn;
  /** Whether the front door's users act as this agent (links naming it need their sign-in). */
  isUserAgent(agent: string): boolean;
  /** The agent a signed-in user acts as. */
  agentOf(user: Subject): string;
}

export const BASE = '/connections';
export const SESSION_COOKIE = 'tollgate_connections_user';
const SIGNIN_COOKIE = 'tollgate_connections_signin';

/**
 * What this browser is for a link naming `agent`: `link` (no sign-in here: the sealed link alone),
 * `none` (not signed in, or a cross-site navigation that does not carry the Strict cookie), `same`,
 * or the user it is signed in as when that user is not the link's.
 */
export async function browserFor(
  c: Context,
  si: ConnectionsSignIn | undefined,
  agent: string,
): Promise<'link' | 'none' | 'same' | { other: Subject }> {
  if (!si?.isUserAgent(agent)) return 'link';
  const who = await sessionUser(c, si.flow, SESSION_COOKIE);
  if (!who) return 'none';
  return si.agentOf(who) === agent ? 'same' : { other: who };
}

/** The agent of the signed-in user, if any. */
export async function signedInAgent(c: Context, si: ConnectionsSignIn): Promise<string | undefined> {
  const who = await sessionUser(c, si.flow, SESSION_COOKIE);
  return who && si.agentOf(who);
}

/** To the sign-in, then back to `next` (a path of these pages). */
export const toSignIn = (c: Context, next: string) => c.redirect(signInPath(BASE, next), 303);

/** A browser signed in as someone other than the link's user: nothing happens. */
export const notYours = (c: Context, agent: string, who: Subject) =>
  page(
    c,
    403,
    'This link is not yours',
    html`<p class="err" id="not-yours">This link is for <code>${agent}</code>, but this browser is signed in as <code>${who.sub}</code>. Nothing was connected or shown.</p>
<p>If you are <code>${agent}</code>, open the link in a browser signed in as that user; otherwise ask your agent for a link of your own.</p>`,
  );

/** A `next` the sign-in may continue to: the connections page or a link's confirmation, as a path. */
function nextOf(raw: string): string | undefined {
  if (!raw.startsWith('/') || raw.startsWith('//') || raw.includes('\\')) return undefined;
  let u: URL;
  try {
    u = new URL(raw, 'http://tollgate.invalid');
  } catch {
    return undefined;
  }
  if (u.pathname !== BASE && u.pathname !== `${BASE}/start`) return undefined;
  if ([...u.searchParams.keys()].some((k) => k !== 't')) return undefined;
  return `${u.pathname}${u.search}`;
}

export function mountConnectionsSignIn(
  app: Hono,
  si: ConnectionsSignIn,
  o: { secure: boolean; legacyCookie: string },
): void {
  mountSignInRoutes(app, si.flow, {
    base: BASE,
    signinCookie: SIGNIN_COOKIE,
    userCookie: SESSION_COOKIE,
    secure: () => o.secure,
    home: BASE,
    nextOf,
    refused: (c, message) =>
      page(
        c,
        401,
        'Sign-in failed',
        html`<p class="err">${message}</p><p><a href="${signInPath(BASE)}">Sign in again</a></p>`,
      ),
    signedIn: (c, to) => {
      // The page is this user's now, not that of a sealed link opened earlier in this browser.
      deleteCookie(c, o.legacyCookie, { path: BASE, secure: o.secure });
      signedInRefresh(c, to);
      return page(c, 200, 'Signed in', html`<p id="signed-in">Signed in. <a href="${to}">Continue</a>.</p>`);
    },
  });
}

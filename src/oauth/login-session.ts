// Who is logged in at the authorization server (a session cookie naming a stored subject) and what
// they have allowed each client (consent, remembered per user and client).
import { createHash, randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { consentKey, type Subject } from './grants.js';
import type { Pending } from './pending-logins.js';
import type { OAuthServer } from './server.js';

interface Consent {
  scopes: string[];
  resources: string[];
}

export const SESSION_COOKIE = 'tg_oauth_session';

const digest = (s: string): string => createHash('sha256').update(s).digest('base64url');

/** The cookies of the authorization flow: scoped to /authorize, never readable by scripts. */
export const authorizeCookie = (as: OAuthServer, ttlMs: number) => ({
  httpOnly: true,
  sameSite: 'Lax' as const,
  path: '/authorize',
  secure: as.secure,
  maxAge: Math.ceil(ttlMs / 1000),
});

export async function sessionOf(as: OAuthServer, c: Context): Promise<Subject | undefined> {
  const id = getCookie(c, SESSION_COOKIE);
  if (!id || id.length > 100) return undefined;
  const s = await as.store.get<Subject>(`session:${digest(id)}`);
  return s && as.subjectNow(s); // a user removed from the config since is logged out
}

/** Starts a login session for a user just authenticated, and sets its cookie. */
export async function startSession(as: OAuthServer, c: Context, subject: Subject): Promise<void> {
  const sid = randomBytes(32).toString('base64url');
  await as.store.set(`session:${digest(sid)}`, subject, as.config.sessionTtlMs);
  setCookie(c, SESSION_COOKIE, sid, authorizeCookie(as, as.config.sessionTtlMs));
}

export async function consented(as: OAuthServer, s: Subject, p: Pending): Promise<boolean> {
  // The gateway's own sign-ins (admin side, connections pages): nothing is handed to a third party.
  if (as.clients.isBuiltIn(p.clientId)) return true;
  const c = await as.store.get<Consent>(consentKey(s.sub, p.clientId));
  return c?.resources.includes(p.resource) === true && p.scope.split(' ').every((x) => c.scopes.includes(x));
}

/** Adds the pending login's scopes and resource to what the user has allowed the client. */
export async function rememberConsent(as: OAuthServer, s: Subject, p: Pending): Promise<void> {
  const key = consentKey(s.sub, p.clientId);
  const prior = (await as.store.get<Consent>(key)) ?? { scopes: [], resources: [] };
  await as.store.set(key, {
    scopes: [...new Set([...prior.scopes, ...p.scope.split(' ').filter(Boolean)])],
    resources: [...new Set([...prior.resources, p.resource])],
  });
}

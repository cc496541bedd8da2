// The admin side as a first-party client of Tollgate's own authorization server (first-party.ts):
// people sign in to /admin to decide the approvals whose rule names them or their groups.
import { firstPartyClient, firstPartySignIn, type FirstPartySignIn, type FirstPartySpec } from './first-party.js';
import type { OAuthClient } from './clients.js';
import type { OAuthServer } from './server.js';

export const ADMIN_CLIENT_ID = 'tollgate-admin';
export const ADMIN_CALLBACK_PATH = '/admin/oauth/callback';
/** Where admin-side sessions of users live in the OAuth store. */
export const ADMIN_SESSION_PREFIX = 'admin-session:';
/** Short: signing in again is one click while the login session at /authorize lasts. */
export const ADMIN_USER_SESSION_TTL_MS = 3600_000;

const spec = (ttlMs = ADMIN_USER_SESSION_TTL_MS): FirstPartySpec => ({
  clientId: ADMIN_CLIENT_ID,
  clientName: 'Tollgate admin',
  callbackPath: ADMIN_CALLBACK_PATH,
  sessionPrefix: ADMIN_SESSION_PREFIX,
  ttlMs,
});

export function adminClient(issuer: string): OAuthClient {
  return firstPartyClient(issuer, spec());
}

export function adminSignIn(as: OAuthServer, ttlMs = ADMIN_USER_SESSION_TTL_MS): FirstPartySignIn {
  return firstPartySignIn(as, spec(ttlMs));
}

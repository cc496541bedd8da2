// The connections pages (/connections: per-user upstream credentials) as a first-party client of
// Tollgate's own authorization server (first-party.ts): with auth.oauth, a user connects an upstream
// account, and sees or revokes their connections, only while signed in as themselves — a connect
// link that reached someone else (forwarded, logged, shoulder-surfed) is of no use to them.
import { firstPartyClient, firstPartySignIn, type FirstPartySignIn, type FirstPartySpec } from './first-party.js';
import type { OAuthClient } from './clients.js';
import type { OAuthServer } from './server.js';

export const CONNECTIONS_CLIENT_ID = 'tollgate-connections';
export const CONNECTIONS_CALLBACK_PATH = '/connections/oauth/callback';
/** Where connections-page sessions live in the OAuth store (apart from the admin side's). */
export const CONNECTIONS_SESSION_PREFIX = 'connections-session:';
/** As the admin side's: an hour, then one click (or none) through the login session at /authorize. */
export const CONNECTIONS_SESSION_TTL_MS = 3600_000;

const spec: FirstPartySpec = {
  clientId: CONNECTIONS_CLIENT_ID,
  clientName: 'Tollgate connections',
  callbackPath: CONNECTIONS_CALLBACK_PATH,
  sessionPrefix: CONNECTIONS_SESSION_PREFIX,
  ttlMs: CONNECTIONS_SESSION_TTL_MS,
};

export function connectionsClient(issuer: string): OAuthClient {
  return firstPartyClient(issuer, spec);
}

export function connectionsSignIn(as: OAuthServer): FirstPartySignIn {
  return firstPartySignIn(as, spec);
}

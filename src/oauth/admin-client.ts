// The admin side as a first-party client of Tollgate's own authorization server: people sign in to
// /admin (to decide the approvals whose rule names them or their groups) through the same /authorize
// login as MCP clients — local users and the company IdP alike, one login page, one set of bounds.
// The client is built in (never in the store, never listed or removable), skips consent, and its
// codes are redeemed here, inside the gateway: /token refuses it, so a sign-in never yields an
// access token for /mcp. The session it leads to lives in the OAuth store under `admin-session:`,
// so removing the user from the config ends it (server.ts) and listing the name again (perhaps for
// someone else) does not revive it.
import { createHash, randomBytes } from 'node:crypto';
import type { OAuthClient } from './clients.js';
import { OAuthError } from './clients.js';
import type { Subject } from './grants.js';
import { pkceMatches } from './pkce.js';
import type { OAuthServer } from './server.js';
import type { AdminSignIn } from '../admin/user-signin.js';

export const ADMIN_CLIENT_ID = 'tollgate-admin';
export const ADMIN_CALLBACK_PATH = '/admin/oauth/callback';
/** Where admin-side sessions of users live in the OAuth store. */
export const ADMIN_SESSION_PREFIX = 'admin-session:';
/** Short: signing in again is one click while the login session at /authorize lasts. */
export const ADMIN_USER_SESSION_TTL_MS = 3600_000;

const digest = (s: string): string => createHash('sha256').update(s).digest('base64url');

export function adminClient(issuer: string): OAuthClient {
  return {
    client_id: ADMIN_CLIENT_ID,
    client_name: 'Tollgate admin',
    redirect_uris: [`${issuer}${ADMIN_CALLBACK_PATH}`],
    token_endpoint_auth_method: 'none',
    kind: 'builtin',
  };
}

export function adminSignIn(as: OAuthServer, ttlMs = ADMIN_USER_SESSION_TTL_MS): AdminSignIn {
  const callback = () => `${as.issuer()}${ADMIN_CALLBACK_PATH}`;
  const key = (sid: string) => `${ADMIN_SESSION_PREFIX}${digest(sid)}`;
  return {
    ttlSeconds: Math.floor(ttlMs / 1000),
    authorizeUrl: (state, challenge) =>
      `${as.issuer()}/authorize?${new URLSearchParams({
        response_type: 'code',
        client_id: ADMIN_CLIENT_ID,
        redirect_uri: callback(),
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state,
      })}`,
    async redeem(code, verifier) {
      let rec: Awaited<ReturnType<typeof as.grants.redeemCode>>;
      try {
        rec = await as.grants.redeemCode(code);
      } catch (err) {
        if (err instanceof OAuthError) return undefined;
        throw err;
      }
      // A code of another client (or for another redirect) is not a sign-in here.
      if (rec.clientId !== ADMIN_CLIENT_ID || rec.redirectUri !== callback()) return undefined;
      if (!pkceMatches(verifier, rec.codeChallenge)) return undefined;
      return as.subjectNow({ sub: rec.sub, groups: rec.groups, idp: rec.idp });
    },
    async startSession(s) {
      const sid = randomBytes(32).toString('base64url');
      await as.store.set(key(sid), { sub: s.sub, groups: [...s.groups], idp: s.idp }, ttlMs);
      return sid;
    },
    async sessionOf(sid) {
      if (sid === undefined || sid.length === 0 || sid.length > 100) return undefined;
      const s = await as.store.get<Subject>(key(sid));
      // The user as the config has them now: removed → no session; changed groups apply at once.
      return s && as.subjectNow(s);
    },
    async endSession(sid) {
      if (sid !== undefined && sid.length > 0 && sid.length <= 100) await as.store.del(key(sid));
    },
  };
}

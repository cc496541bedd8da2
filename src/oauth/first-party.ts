// The gateway's own pages as first-party clients of its authorization server: people sign in to
// them through the same /authorize login as MCP clients (local users and the company IdP alike, one
// login page, one set of bounds). Each such client is built in (never in the store, never listed or
// removable), skips consent, and its codes are redeemed here, inside the gateway: /token refuses
// built-in clients, so a sign-in never yields an access token for /mcp. Each has its own client id,
// callback and session prefix in the OAuth store, so a code or session of one opens nothing of
// another; removing the user from the config ends the sessions (server.ts), and listing the name
// again (perhaps for someone else) does not revive them.
//
// Users: the admin side (approvers, admin-client.ts) and the connections pages (per-user upstream
// credentials, connections-client.ts).
import { createHash, randomBytes } from 'node:crypto';
import type { OAuthClient } from './clients.js';
import { OAuthError } from './clients.js';
import type { Subject } from './grants.js';
import { pkceMatches } from './pkce.js';
import type { OAuthServer } from './server.js';

/** What a first-party client is: its id, its callback on the issuer, where its sessions live. */
export interface FirstPartySpec {
  clientId: string;
  clientName: string;
  /** The callback's path on the issuer, e.g. `/admin/oauth/callback`. */
  callbackPath: string;
  /** Where its sessions live in the OAuth store, e.g. `admin-session:`. */
  sessionPrefix: string;
  /** Short: signing in again is one click (or none) while the login session at /authorize lasts. */
  ttlMs: number;
}

/** What the authorization server gives one of the gateway's pages to sign people in. */
export interface FirstPartySignIn {
  /** The /authorize URL that starts a sign-in with this state and PKCE challenge. */
  authorizeUrl(state: string, challenge: string): string;
  /** The user a code of this client names (once; PKCE checked), or undefined. */
  redeem(code: string, verifier: string): Promise<Subject | undefined>;
  /** A new session for the user: the cookie's value. */
  startSession(s: Subject): Promise<string>;
  /** The user of a live session, as the config has them now. */
  sessionOf(sid: string | undefined): Promise<Subject | undefined>;
  endSession(sid: string | undefined): Promise<void>;
  ttlSeconds: number;
}

const digest = (s: string): string => createHash('sha256').update(s).digest('base64url');

/**
 * Live sessions one user keeps per first-party client; a sign-in beyond ends the oldest. With a login
 * session at /authorize a sign-in costs three cheap requests (no password, no consent) and its
 * pending-login place is given back, so without a bound one user could leave a session in the store
 * for every round, an hour each (and with the file store rewrite the whole file each time). Ending
 * the oldest, not refusing, keeps the newest browser signed in even when a page elsewhere makes
 * this one sign in over and over.
 */
export const MAX_SESSIONS_PER_USER = 10;
const plausible = (sid: string | undefined): sid is string => sid !== undefined && sid.length > 0 && sid.length <= 100;

export function firstPartyClient(issuer: string, spec: FirstPartySpec): OAuthClient {
  return {
    client_id: spec.clientId,
    client_name: spec.clientName,
    redirect_uris: [`${issuer}${spec.callbackPath}`],
    token_endpoint_auth_method: 'none',
    kind: 'builtin',
  };
}

export function firstPartySignIn(as: OAuthServer, spec: FirstPartySpec): FirstPartySignIn {
  const callback = () => `${as.issuer()}${spec.callbackPath}`;
  const key = (sid: string) => `${spec.sessionPrefix}${digest(sid)}`;
  // Apart from the session prefix: the removal of a user lists sessions by it (server.ts).
  const ofUser = (s: Subject) => `sessions-of:${spec.clientId}:${digest(`${s.idp}\u0000${s.sub}`)}`;
  /** Records the new session among the user's live ones, ending the oldest beyond the bound. */
  const bound = async (s: Subject, k: string): Promise<void> => {
    const list = ofUser(s);
    const live: string[] = [];
    for (const known of (await as.store.get<string[]>(list)) ?? [])
      if ((await as.store.get(known)) !== undefined) live.push(known);
    live.push(k);
    while (live.length > MAX_SESSIONS_PER_USER) {
      const oldest = live.shift();
      if (oldest !== undefined) await as.store.del(oldest);
    }
    await as.store.set(list, live, spec.ttlMs);
  };
  return {
    ttlSeconds: Math.floor(spec.ttlMs / 1000),
    authorizeUrl: (state, challenge) =>
      `${as.issuer()}/authorize?${new URLSearchParams({
        response_type: 'code',
        client_id: spec.clientId,
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
      if (rec.clientId !== spec.clientId || rec.redirectUri !== callback()) return undefined;
      if (!pkceMatches(verifier, rec.codeChallenge)) return undefined;
      return as.subjectNow({ sub: rec.sub, groups: rec.groups, idp: rec.idp });
    },
    async startSession(s) {
      const sid = randomBytes(32).toString('base64url');
      await as.store.set(key(sid), { sub: s.sub, groups: [...s.groups], idp: s.idp }, spec.ttlMs);
      await bound(s, key(sid));
      return sid;
    },
    async sessionOf(sid) {
      if (!plausible(sid)) return undefined;
      const s = await as.store.get<Subject>(key(sid));
      // The user as the config has them now: removed → no session; changed groups apply at once.
      return s && as.subjectNow(s);
    },
    async endSession(sid) {
      if (plausible(sid)) await as.store.del(key(sid));
    },
  };
}

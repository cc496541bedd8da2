// API keys: `tg_` + 256 random bits. Policy files store only `sha256:<hex>` of a key. High-entropy
// keys need no salt or slow hash; lookups go by the digest, so timing reveals nothing about the key.
import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../sha256.js';
import type { AgentIdentity, AuthResult, Authenticator } from './identity.js';
import type { PolicySet } from '../policy/policy-set.js';

export const API_KEY_PREFIX = 'tg_';

export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiKey(key: string): string {
  return `sha256:${sha256Hex(key)}`; // on every request: one-shot, no Hash object
}

/** Exactly two dots, as a JWT's three parts have (no array made per request, as split would). */
function isJwtShaped(token: string): boolean {
  const first = token.indexOf('.');
  if (first < 0) return false;
  const second = token.indexOf('.', first + 1);
  return second >= 0 && token.indexOf('.', second + 1) < 0;
}

export interface ApiKeyOptions {
  /** Keys given in the gateway config (usually from env): agent by plaintext key. */
  inline: readonly { agent: string; key: string }[];
  /** The current policy set, whose files hold key hashes. */
  policies: () => PolicySet;
}

export function apiKeyAuthenticator(opts: ApiKeyOptions): Authenticator {
  const inline = new Map(opts.inline.map((k) => [hashApiKey(k.key), k.agent]));
  // Accepted keys, by the key itself, for the policy set they were checked against: a SHA-256 per
  // request was ~2% of a relayed call's CPU (perf, session 10). Only keys that matched are kept, so
  // the map holds at most the configured keys however many wrong ones agents send; a reload (a new
  // policy set) empties it, so a removed key stops working with the reload that removed it. The keys
  // are in memory anyway while their requests are read; lookups compare whole strings after a hash
  // of the token sent, so timing says nothing about a stored key.
  let checkedAgainst: PolicySet | undefined;
  const accepted = new Map<string, AuthResult>();
  return {
    name: 'api_key',
    authenticate(token) {
      const policies = opts.policies();
      if (policies !== checkedAgainst) {
        accepted.clear();
        checkedAgainst = policies;
      }
      const known = accepted.get(token);
      if (known) return known;
      if (isJwtShaped(token) && !token.startsWith(API_KEY_PREFIX)) return undefined; // a JWT
      const hash = hashApiKey(token);
      const agent = inline.get(hash) ?? policies.agentForKeyHash(hash);
      if (agent === undefined) return { ok: false, error: 'invalid_token', description: 'unknown API key' };
      const identity: AgentIdentity = Object.freeze({
        id: agent,
        method: 'api_key',
        scopes: Object.freeze([]),
        claims: Object.freeze({}),
      });
      const result: AuthResult = Object.freeze({ ok: true, identity });
      accepted.set(token, result);
      return result;
    },
  };
}

// API keys: `tg_` + 256 random bits. Policy files store only `sha256:<hex>` of a key. High-entropy
// keys need no salt or slow hash; lookups go by the digest, so timing reveals nothing about the key.
import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../sha256.js';
import type { Authenticator } from './identity.js';
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
  return {
    name: 'api_key',
    authenticate(token) {
      if (isJwtShaped(token) && !token.startsWith(API_KEY_PREFIX)) return undefined; // a JWT
      const hash = hashApiKey(token);
      const agent = inline.get(hash) ?? opts.policies().agentForKeyHash(hash);
      if (agent === undefined) return { ok: false, error: 'invalid_token', description: 'unknown API key' };
      return { ok: true, identity: { id: agent, method: 'api_key', scopes: [], claims: {} } };
    },
  };
}

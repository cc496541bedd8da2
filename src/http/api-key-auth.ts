// Bearer API keys → agent identity. Keys are compared as SHA-256 digests in constant time, so
// neither the key nor its length leaks through timing. (Issue 3 adds hashed keys and JWT.)
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './env.js';
import { errorResponse } from './respond.js';
import { headerOf } from './node-io.js';

export interface ApiKeyAuthOptions {
  keys: readonly { agent: string; key: string }[];
  allowAnonymous: boolean;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export function apiKeyAuth(opts: ApiKeyAuthOptions): MiddlewareHandler<AppEnv> {
  if (opts.keys.length === 0 && !opts.allowAnonymous) {
    throw new Error('auth: configure at least one api key, or set allow_anonymous: true');
  }
  const entries = opts.keys.map((k) => ({ agent: k.agent, digest: digest(k.key) }));
  // Successful lookups are memoised by token (bounded): hashing is cheap, but free is cheaper.
  const known = new Map<string, string>();
  return async (c, next) => {
    const header = headerOf(c, 'authorization');
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    if (token === undefined) {
      if (opts.allowAnonymous) {
        c.set('agent', { id: 'anonymous', method: 'anonymous' });
        return next();
      }
      return errorResponse(c, 'unauthorized', 'missing bearer token', { 'www-authenticate': 'Bearer' });
    }
    let agent = known.get(token);
    if (agent === undefined) {
      const d = digest(token);
      for (const e of entries) if (timingSafeEqual(d, e.digest)) agent = e.agent;
      if (agent !== undefined) {
        if (known.size > 10_000) known.clear();
        known.set(token, agent);
      }
    }
    if (agent === undefined) {
      return errorResponse(c, 'unauthorized', 'invalid bearer token', { 'www-authenticate': 'Bearer error="invalid_token"' });
    }
    c.set('agent', { id: agent, method: 'api_key' });
    return next();
  };
}

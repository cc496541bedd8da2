// Bearer-token authentication (RFC 6750 + MCP authorization): every agent request names a known
// agent. Failures answer 401/403 with WWW-Authenticate pointing at our protected resource metadata
// (RFC 9728), so MCP clients can discover where to get a token.
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from './env.js';
import type { Authenticator, AuthFailure } from '../auth/identity.js';
import { errorResponse } from './respond.js';
import { headerOf } from './node-io.js';

export interface AuthenticateOptions {
  /** Tried in order; the first that recognises the token decides. */
  authenticators: readonly Authenticator[];
  allowAnonymous: boolean;
  /** URL of the protected resource metadata document, for WWW-Authenticate. */
  resourceMetadataUrl: (requestUrl: string) => string;
  /**
   * The path a token's resource is judged against, when it is not the request's own: a legacy SSE
   * `POST /messages` belongs to the stream its session was opened on (`/sse/<server>`).
   */
  resourcePath?: (c: Context<AppEnv>) => string;
  /**
   * The scopes a client should ask for (the protected resource metadata's scopes_supported), named
   * in the 401 challenge as MCP 2025-11-25 asks (RFC 6750 §3 `scope`): its clients take the
   * challenge's scope before the metadata's.
   */
  scopes?: readonly string[];
}

const quote = (s: string): string => s.replace(/["\\]/g, '');

/**
 * The credential of a request: a Bearer token, or (Anthropic's clients send their key so) X-Api-Key
 * when there is no Authorization at all; undefined when neither holds one.
 */
export function bearerToken(authorization: string | undefined, apiKey: string | undefined): string | undefined {
  if (authorization !== undefined)
    return authorization.startsWith('Bearer ') ? authorization.slice(7).trim() : undefined;
  return apiKey?.trim();
}

export function authenticate(opts: AuthenticateOptions): MiddlewareHandler<AppEnv> {
  if (opts.authenticators.length === 0 && !opts.allowAnonymous) {
    throw new Error('auth: configure api keys, policies with key hashes, or jwt; or set allow_anonymous: true');
  }
  const challenge = (url: string, failure?: AuthFailure): string => {
    const parts = [`resource_metadata="${opts.resourceMetadataUrl(url)}"`];
    if (failure) parts.push(`error="${failure.error}"`, `error_description="${quote(failure.description)}"`);
    if (failure?.error === 'insufficient_scope') parts.push(`scope="${quote(failure.scope)}"`);
    else if (opts.scopes !== undefined && opts.scopes.length > 0) parts.push(`scope="${quote(opts.scopes.join(' '))}"`);
    return `Bearer ${parts.join(', ')}`;
  };
  return async (c, next) => {
    const header = headerOf(c, 'authorization');
    const token = bearerToken(header, header === undefined ? headerOf(c, 'x-api-key') : undefined);
    if (!token) {
      if (opts.allowAnonymous && header === undefined) {
        c.set('agent', { id: 'anonymous', method: 'anonymous', scopes: [], claims: {} });
        return next();
      }
      return errorResponse(c, 'unauthorized', 'missing bearer token', { 'www-authenticate': challenge(c.req.url) });
    }
    const path = opts.resourcePath ? opts.resourcePath(c) : c.req.path;
    for (const a of opts.authenticators) {
      const r = await a.authenticate(token, { path });
      if (r === undefined) continue;
      if (r.ok) {
        c.set('agent', r.identity);
        return next();
      }
      const kind = r.error === 'insufficient_scope' ? 'forbidden' : 'unauthorized';
      return errorResponse(
        c,
        kind,
        r.error === 'insufficient_scope'
          ? `insufficient scope: ${r.scope} required`
          : `invalid bearer token: ${r.description}`,
        {
          'www-authenticate': challenge(c.req.url, r),
        },
      );
    }
    return errorResponse(c, 'unauthorized', 'invalid bearer token', {
      'www-authenticate': challenge(c.req.url, { error: 'invalid_token', description: 'unrecognised token' }),
    });
  };
}

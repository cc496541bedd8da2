// The parameters of GET /authorize, checked. The client and its redirect URI are checked first:
// until both are known good, errors are shown on a page, never sent to a redirect URI (that would
// make Tollgate an open redirector). Every later error goes back to the client as
// `?error=…&state=…&iss=…` (redirectBack).
import { OAuthError, type OAuthClient } from './clients.js';
import { CHALLENGE } from './pkce.js';
import { redirectUriMatches } from './redirect.js';
import { knownResource } from './resources.js';
import type { OAuthServer } from './server.js';

/** Where an answer for the client goes: its redirect URI, with the state it sent. */
export interface ClientRedirect {
  redirectUri: string;
  state: string | undefined;
}

/** An authorization request with every parameter checked. */
export interface AuthorizeRequest extends ClientRedirect {
  client: OAuthClient;
  codeChallenge: string;
  resource: string;
  /** The requested scopes, known ones only, deduplicated, space-separated. */
  scope: string;
}

export type Checked =
  | { ok: true; request: AuthorizeRequest }
  /** The client or its redirect URI is not known good: shown on a page. */
  | { ok: false; page: true; error: string; description: string }
  /** Sent back to the client's (checked) redirect URI. */
  | { ok: false; page: false; to: ClientRedirect; error: string; description: string };

export async function checkAuthorizeRequest(as: OAuthServer, q: Record<string, string>): Promise<Checked> {
  const cfg = as.config;
  let client: OAuthClient;
  try {
    client = await as.clients.find(q.client_id ?? '');
  } catch (err) {
    if (err instanceof OAuthError) return { ok: false, page: true, error: err.error, description: err.description };
    throw err;
  }
  const redirectUri = q.redirect_uri ?? (client.redirect_uris.length === 1 ? client.redirect_uris[0] : undefined);
  if (redirectUri === undefined || !redirectUriMatches(client.redirect_uris, redirectUri))
    return {
      ok: false,
      page: true,
      error: 'invalid_request',
      description: 'redirect_uri is not one the client registered',
    };
  const state = q.state;
  const fail = (error: string, description: string): Checked => ({
    ok: false,
    page: false,
    to: { redirectUri, state },
    error,
    description,
  });
  if (state !== undefined && state.length > 2048) return fail('invalid_request', 'state is too long');
  if (q.response_type !== 'code') return fail('unsupported_response_type', 'only response_type=code is supported');
  if (q.code_challenge_method !== 'S256' || !CHALLENGE.test(q.code_challenge ?? ''))
    return fail('invalid_request', 'PKCE is required: code_challenge with code_challenge_method=S256');
  const resource = knownResource(as.resources, q.resource ?? as.resources.mcp());
  if (!resource) return fail('invalid_target', 'resource is not served by this gateway');
  const scopes = [...new Set((q.scope ?? cfg.scopes.join(' ')).split(' ').filter(Boolean))];
  const unknown = scopes.filter((s) => !cfg.scopes.includes(s));
  if (unknown.length > 0) return fail('invalid_scope', `unknown scope ${unknown.join(' ')}`);
  return {
    ok: true,
    request: { client, redirectUri, state, codeChallenge: q.code_challenge ?? '', resource, scope: scopes.join(' ') },
  };
}

/** The client's redirect URI with `params`, its state and this issuer (RFC 9207) added. */
export function redirectBack(as: OAuthServer, to: ClientRedirect, params: Record<string, string>): string {
  const u = new URL(to.redirectUri);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  if (to.state !== undefined) u.searchParams.set('state', to.state);
  u.searchParams.set('iss', as.issuer());
  return u.href;
}

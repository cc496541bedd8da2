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
  /** The request named no redirect_uri (the client's only one is used): /token then needs none either. */
  redirectUriOmitted?: true;
  /** The requested scopes Tollgate issues (others ignored; none: all of auth.oauth.scopes), deduplicated, space-separated. */
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
  // Scopes Tollgate does not issue are ignored, not refused (RFC 6749 §3.3 lets the server grant
  // fewer; the token answer says which): MCP clients ask for the protected resource metadata's
  // scopes_supported, which also lists auth.jwt's required scopes, and some add OIDC scopes
  // (`openid`, `offline_access`). Asking for none Tollgate issues is as asking for no scope: all of them.
  const asked = [...new Set((q.scope ?? '').split(' ').filter((s) => cfg.scopes.includes(s)))];
  const scopes = asked.length > 0 ? asked : [...cfg.scopes];
  return {
    ok: true,
    request: {
      client,
      redirectUri,
      ...(q.redirect_uri === undefined && { redirectUriOmitted: true }),
      state,
      codeChallenge: q.code_challenge ?? '',
      resource,
      scope: scopes.join(' '),
    },
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

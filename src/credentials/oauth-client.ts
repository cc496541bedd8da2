// Tollgate as an OAuth client of an upstream's authorization server: which client it is
// (pre-registered, its Client ID Metadata Document, or registered dynamically, RFC 7591), and the
// token endpoint calls (authorization code + PKCE, refresh, RFC 8693 exchange) and revocation (RFC 7009).
import { createHash, randomBytes } from 'node:crypto';
import { GatewayError } from '../errors.js';
import type { AuthServerInfo } from './discovery.js';
import { exclusively } from './exclusive.js';
import { fetchJson, form, str } from './fetch-json.js';
import type { Reach } from './reach.js';
import type { ClientCredentials, UpstreamAuth } from './runtime.js';
import type { Vault } from './vault.js';

export interface OAuthClient {
  clientId: string;
  clientSecret: string | undefined;
  authMethod: 'client_secret_basic' | 'client_secret_post' | 'none';
}

export interface TokenSet {
  accessToken: string;
  refreshToken: string | undefined;
  expiresAt: number | undefined;
  /** The lifetime the AS gave the access token (`expires_in`, in ms), when it gave one. */
  lifetimeMs: number | undefined;
  scope: string | undefined;
}

/** The AS refused a grant (invalid_grant…): the user must authorize again. */
export class GrantRefused extends Error {}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function clientFrom(c: ClientCredentials, methods: readonly string[]): OAuthClient {
  if (!c.secret) return { clientId: c.id, clientSecret: undefined, authMethod: 'none' };
  const post = methods.length > 0 && !methods.includes('client_secret_basic') && methods.includes('client_secret_post');
  return { clientId: c.id, clientSecret: c.secret, authMethod: post ? 'client_secret_post' : 'client_secret_basic' };
}

/** Which client Tollgate is at this AS (see `registration` in the config reference). */
export async function resolveClient(
  upstream: string,
  auth: Extract<UpstreamAuth, { kind: 'oauth' }>,
  info: AuthServerInfo,
  vault: Vault,
  urls: { redirectUri: string; metadataDocument: string },
): Promise<OAuthClient> {
  const mode =
    auth.registration !== 'auto'
      ? auth.registration
      : auth.client
        ? 'pre_registered'
        : info.clientIdMetadataDocumentSupported
          ? 'metadata_document'
          : 'dynamic';
  if (mode === 'pre_registered') {
    if (!auth.client) throw new GatewayError('internal', `upstream ${upstream}: no client configured`);
    return clientFrom(auth.client, info.tokenAuthMethods);
  }
  if (mode === 'metadata_document')
    return { clientId: urls.metadataDocument, clientSecret: undefined, authMethod: 'none' };
  const name = `client:${upstream}:${info.issuer}:${urls.redirectUri}`;
  const kept = async () => {
    const c = (await vault.getSecret(name)) as OAuthClient | undefined;
    return c?.clientId ? c : undefined;
  };
  // One registration for every instance: flows started with a client the vault no longer names
  // would fail at the token endpoint, and the tokens they got could not be refreshed.
  return (
    (await kept()) ??
    exclusively(
      vault.store,
      `register:${name}`,
      kept,
      () => register(upstream, info, vault, name, urls),
      'the client registration',
    )
  );
}

async function register(
  upstream: string,
  info: AuthServerInfo,
  vault: Vault,
  name: string,
  urls: { redirectUri: string },
): Promise<OAuthClient> {
  if (!info.registrationEndpoint)
    throw new GatewayError(
      'upstream_bad_response',
      `upstream ${upstream}: its authorization server offers no dynamic registration; configure auth.client`,
    );
  const r = await fetchJson(info.registrationEndpoint, {
    method: 'POST',
    what: 'dynamic client registration',
    reach: info.reach,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'Tollgate',
      redirect_uris: [urls.redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }),
  });
  const id = str(r.body?.client_id);
  if ((r.status !== 201 && r.status !== 200) || !id)
    throw new GatewayError(
      'upstream_bad_response',
      `upstream ${upstream}: dynamic registration failed (HTTP ${r.status})`,
    );
  const secret = str(r.body?.client_secret);
  const method = str(r.body?.token_endpoint_auth_method);
  const client: OAuthClient = {
    clientId: id,
    clientSecret: secret,
    authMethod: !secret ? 'none' : method === 'client_secret_post' ? 'client_secret_post' : 'client_secret_basic',
  };
  await vault.putSecret(name, client);
  return client;
}

function clientAuth(c: OAuthClient, body: Record<string, string | undefined>): Record<string, string> {
  if (c.authMethod === 'client_secret_basic') {
    const enc = (s: string) => encodeURIComponent(s);
    return {
      authorization: `Basic ${Buffer.from(`${enc(c.clientId)}:${enc(c.clientSecret ?? '')}`).toString('base64')}`,
    };
  }
  if (c.clientId) body.client_id = c.clientId;
  if (c.authMethod === 'client_secret_post') body.client_secret = c.clientSecret;
  return {};
}

/**
 * The `error` of an AS answer when it is an error code (RFC 6749 §5.2: `invalid_grant`…), never other
 * text: it goes on into the agent's error and trace spans, and an AS (or a proxy before it) that
 * quotes what it was sent would put the user's refresh token or our client secret there.
 */
function errorCode(v: unknown, sent: readonly (string | undefined)[]): string | undefined {
  const code = str(v);
  if (!code || !/^[a-z][a-z_]{0,63}$/.test(code)) return undefined;
  return sent.some((x) => x !== undefined && x.length >= 8 && code.includes(x)) ? undefined : code;
}

/**
 * One token endpoint call; the answer's tokens, or GrantRefused when the AS says the grant is bad.
 * `reach`: the endpoint came from discovery (the upstream named it), not from the config.
 */
export async function tokenRequest(
  tokenEndpoint: string,
  client: OAuthClient,
  params: Record<string, string | undefined>,
  reach?: Reach,
): Promise<TokenSet> {
  const body = { ...params };
  const headers = { 'content-type': 'application/x-www-form-urlencoded', ...clientAuth(client, body) };
  const r = await fetchJson(tokenEndpoint, {
    method: 'POST',
    what: 'token endpoint',
    headers,
    body: form(body),
    reach,
  });
  const access = str(r.body?.access_token);
  if (r.status === 200 && access) {
    const expiresIn = Number(r.body?.expires_in);
    const lifetimeMs = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : undefined;
    return {
      accessToken: access,
      refreshToken: str(r.body?.refresh_token),
      expiresAt: lifetimeMs === undefined ? undefined : Date.now() + lifetimeMs,
      lifetimeMs,
      scope: str(r.body?.scope),
    };
  }
  const error = errorCode(r.body?.error, [...Object.values(body), client.clientSecret]) ?? `HTTP ${r.status}`;
  if (r.status === 400 || r.status === 401) throw new GrantRefused(`token endpoint refused: ${error.slice(0, 100)}`);
  throw new GatewayError('upstream_unavailable', `token endpoint failed: ${error.slice(0, 100)}`);
}

/** RFC 7009, best effort: the local copy is deleted whatever the AS says. */
export async function revokeToken(
  endpoint: string,
  client: OAuthClient,
  token: string,
  hint: 'refresh_token' | 'access_token',
  reach: Reach,
): Promise<boolean> {
  const body: Record<string, string | undefined> = { token, token_type_hint: hint };
  const headers = { 'content-type': 'application/x-www-form-urlencoded', ...clientAuth(client, body) };
  try {
    const r = await fetchJson(endpoint, {
      method: 'POST',
      what: 'revocation endpoint',
      headers,
      body: form(body),
      reach,
    });
    return r.status === 200;
  } catch {
    return false;
  }
}

// The authorization server's machine endpoints: metadata (RFC 8414, and the OpenID discovery path
// clients also probe), JWKS, /token (authorization_code with PKCE, refresh_token with rotation),
// /revoke (RFC 7009) and /register (RFC 7591). Answers are JSON, never cached; CORS is open (no
// cookies are involved, and browser-based MCP clients call these directly).
import type { Context, Hono } from 'hono';
import { cors } from 'hono/cors';
import { bodyLimit } from 'hono/body-limit';
import { compactVerify, decodeJwt, decodeProtectedHeader } from 'jose';
import { OAuthError, secretMatches, type OAuthClient } from './clients.js';
import { pkceMatches } from './pkce.js';
import { knownResource } from './resources.js';
import type { OAuthServer } from './server.js';

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

function oauthError(c: Context, err: OAuthError) {
  const headers: Record<string, string> = { ...NO_STORE };
  if (err.status === 401) headers['www-authenticate'] = 'Basic realm="tollgate"';
  return c.json({ error: err.error, error_description: err.description }, err.status as 400, headers);
}

/** The client a token/revoke request authenticates as (RFC 6749 §2.3: Basic, or body parameters). */
async function clientOf(as: OAuthServer, c: Context, form: Record<string, unknown>): Promise<OAuthClient> {
  let id = typeof form.client_id === 'string' ? form.client_id : undefined;
  let secret = typeof form.client_secret === 'string' ? form.client_secret : undefined;
  const auth = c.req.header('authorization');
  if (auth?.startsWith('Basic ')) {
    const raw = Buffer.from(auth.slice(6), 'base64').toString('utf8');
    const i = raw.indexOf(':');
    try {
      id = decodeURIComponent(raw.slice(0, i < 0 ? raw.length : i));
      secret = i < 0 ? undefined : decodeURIComponent(raw.slice(i + 1));
    } catch {
      throw new OAuthError('invalid_client', 'malformed Basic credentials', 401);
    }
  }
  if (!id) throw new OAuthError('invalid_client', 'client_id is required', 401);
  let client: OAuthClient;
  try {
    client = await as.clients.find(id);
  } catch (err) {
    if (err instanceof OAuthError) throw new OAuthError('invalid_client', err.description, 401);
    throw err;
  }
  if (!secretMatches(client, secret)) throw new OAuthError('invalid_client', 'client authentication failed', 401);
  // The admin side's sign-in redeems its codes inside the gateway: over HTTP its code (with the
  // browser's verifier) must not buy an access token for /mcp.
  if (client.kind === 'builtin') throw new OAuthError('invalid_client', 'this client has no token endpoint', 401);
  return client;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

export function metadataDocument(as: OAuthServer): Record<string, unknown> {
  const iss = as.issuer();
  return {
    issuer: iss,
    authorization_endpoint: `${iss}/authorize`,
    token_endpoint: `${iss}/token`,
    revocation_endpoint: `${iss}/revoke`,
    ...(as.config.dynamicRegistration ? { registration_endpoint: `${iss}/register` } : {}),
    jwks_uri: `${iss}/oauth/jwks`,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    revocation_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    scopes_supported: as.config.scopes,
    client_id_metadata_document_supported: as.config.clientIdMetadata.enabled,
    authorization_response_iss_parameter_supported: true,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['ES256'],
  };
}

export function tokenRoutes(app: Hono, as: OAuthServer): void {
  const open = cors({ origin: '*', allowMethods: ['GET', 'POST', 'OPTIONS'], maxAge: 600 });
  const limit = bodyLimit({
    maxSize: 16 * 1024,
    onError: (c) => c.json({ error: 'invalid_request', error_description: 'body too large' }, 413),
  });
  for (const p of [
    '/.well-known/oauth-authorization-server',
    '/.well-known/openid-configuration',
    '/oauth/jwks',
    '/token',
    '/revoke',
    '/register',
  ])
    app.use(p, open);
  for (const p of ['/token', '/revoke', '/register']) app.use(p, limit);

  const meta = (c: Context) => c.json(metadataDocument(as), 200, { 'cache-control': 'max-age=300' });
  app.get('/.well-known/oauth-authorization-server', meta);
  app.get('/.well-known/openid-configuration', meta);
  app.get('/oauth/jwks', async (c) => c.json(await as.keys.jwks(), 200, { 'cache-control': 'max-age=300' }));

  app.post('/token', async (c) => {
    try {
      const form = await c.req.parseBody();
      const client = await clientOf(as, c, form);
      const grantType = str(form.grant_type);
      const resource = str(form.resource);
      if (resource !== undefined && knownResource(as.resources, resource) === undefined)
        throw new OAuthError('invalid_target', 'resource is not served by this gateway');
      const canonical = resource && knownResource(as.resources, resource);
      if (grantType === 'authorization_code') {
        const code = str(form.code);
        if (!code) throw new OAuthError('invalid_request', 'code is required');
        const rec = await as.grants.redeemCode(code);
        if (rec.clientId !== client.client_id)
          throw new OAuthError('invalid_grant', 'code was issued to another client');
        // RFC 6749 §4.1.3: required (and identical) only when the authorization request sent one.
        const redirectUri = str(form.redirect_uri);
        if (redirectUri === undefined ? rec.redirectUriOmitted !== true : redirectUri !== rec.redirectUri)
          throw new OAuthError('invalid_grant', 'redirect_uri differs from the authorization request');
        if (!pkceMatches(str(form.code_verifier) ?? '', rec.codeChallenge))
          throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge');
        if (canonical !== undefined && canonical !== rec.resource)
          throw new OAuthError('invalid_target', 'resource differs from the authorization request');
        return c.json(await as.grants.start(code, rec), 200, NO_STORE);
      }
      if (grantType === 'refresh_token') {
        const token = str(form.refresh_token);
        if (!token) throw new OAuthError('invalid_request', 'refresh_token is required');
        return c.json(await as.grants.refresh(token, client.client_id, canonical), 200, NO_STORE);
      }
      throw new OAuthError('unsupported_grant_type', 'grant_type is authorization_code or refresh_token');
    } catch (err) {
      if (err instanceof OAuthError) return oauthError(c, err);
      throw err;
    }
  });

  app.post('/revoke', async (c) => {
    try {
      const form = await c.req.parseBody();
      const client = await clientOf(as, c, form);
      const token = str(form.token);
      if (!token) throw new OAuthError('invalid_request', 'token is required');
      let gid = await as.grants.grantOfRefresh(token);
      if (gid === undefined && token.split('.').length === 3) {
        try {
          const key = await as.keys.verifying(decodeProtectedHeader(token).kid);
          if (key) {
            await compactVerify(token, key);
            const g = decodeJwt(token).gid;
            gid = typeof g === 'string' ? g : undefined;
          }
        } catch {
          gid = undefined; // not ours: nothing to revoke (RFC 7009 §2.2 answers 200 anyway)
        }
      }
      if (gid !== undefined) {
        const grant = await as.grants.get(gid);
        if (grant && grant.clientId === client.client_id) await as.grants.revoke(gid);
      }
      return c.body(null, 200, NO_STORE);
    } catch (err) {
      if (err instanceof OAuthError) return oauthError(c, err);
      throw err;
    }
  });

  if (as.config.dynamicRegistration)
    app.post('/register', async (c) => {
      try {
        let body: unknown;
        try {
          body = await c.req.json();
        } catch {
          throw new OAuthError('invalid_client_metadata', 'the body is not JSON');
        }
        return c.json(await as.clients.register(body, as.clientAddress(c)), 201, NO_STORE);
      } catch (err) {
        if (err instanceof OAuthError) return oauthError(c, err);
        throw err;
      }
    });
}

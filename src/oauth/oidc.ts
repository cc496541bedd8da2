// Login through a company OpenID Connect provider (auth.oauth.oidc): Tollgate is that provider's
// client (authorization code + PKCE, client secret, nonce), verifies the id_token against its JWKS,
// and maps claims to the user (`subject_claim`) and their policy groups (`groups_claim`). The login
// in progress at Tollgate (the MCP client's request) is resumed afterwards: consent, then the code.
import { createHash, randomBytes } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { OAuthServer } from './server.js';
import type { Subject } from './grants.js';

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  issuer: string;
}

interface Started {
  txn: string;
  nonce: string;
  verifier: string;
}

export interface OidcHooks {
  txnCookie: string;
  /** The pending login `txn` names, if any. */
  pending(txn: string): Promise<unknown>;
  /** Ends the upstream login: session, then consent or code. */
  finish(c: Context, txn: string, subject: Subject): Promise<Response>;
  fail(c: Context, error: string, description: string): Response | Promise<Response>;
}

export function oidcRoutes(app: Hono, as: OAuthServer, hooks: OidcHooks): void {
  const o = as.config.oidc;
  if (!o) return;
  let discovered: Promise<{ d: Discovery; keys: JWTVerifyGetKey }> | undefined;
  const discover = () => {
    discovered ??= (async () => {
      const res = await fetch(`${o.issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`discovery answered HTTP ${res.status}`);
      const d = (await res.json()) as Discovery;
      if (d.issuer.replace(/\/$/, '') !== o.issuer) throw new Error(`discovery names issuer ${d.issuer}`);
      return { d, keys: createRemoteJWKSet(new URL(d.jwks_uri)) };
    })();
    discovered.catch(() => {
      discovered = undefined; // try again next login
    });
    return discovered;
  };
  const callbackUrl = () => `${as.issuer()}/authorize/oidc/callback`;

  /**
   * The upstream state of a pending login: made once per login (first writer wins), so sending the
   * browser to the IdP again reuses it instead of storing one more each time (anyone holding a login
   * page could otherwise grow the store without bound).
   */
  const startFor = async (txn: string): Promise<{ state: string; started: Started }> => {
    const ttl = as.config.loginTtlMs;
    const known = await as.store.get<string>(`oidc-of:${txn}`);
    const existing = known === undefined ? undefined : await as.store.get<Started>(`oidc:${known}`);
    if (known !== undefined && existing) return { state: known, started: existing };
    const state = randomBytes(24).toString('base64url');
    const started: Started = {
      txn,
      nonce: randomBytes(16).toString('base64url'),
      verifier: randomBytes(32).toString('base64url'),
    };
    await as.store.set(`oidc:${state}`, started, ttl);
    // A spent state (a callback that failed) is replaced; a concurrent start's is taken over.
    if (known !== undefined) await as.store.set(`oidc-of:${txn}`, state, ttl);
    else if (!(await as.store.setIfAbsent(`oidc-of:${txn}`, state, ttl))) {
      await as.store.del(`oidc:${state}`);
      return startFor(txn);
    }
    return { state, started };
  };

  app.get('/authorize/oidc', async (c) => {
    const txn = c.req.query('txn') ?? '';
    if (!txn || getCookie(c, hooks.txnCookie) !== txn || !(await hooks.pending(txn)))
      return hooks.fail(c, 'invalid_request', 'this login is stale; start again from the application');
    let d: Discovery;
    try {
      ({ d } = await discover());
    } catch (err) {
      as.log.warn({ err: (err as Error).message }, 'oidc discovery failed');
      return hooks.fail(c, 'temporarily_unavailable', 'the identity provider cannot be reached');
    }
    const { state, started } = await startFor(txn);
    const u = new URL(d.authorization_endpoint);
    u.search = new URLSearchParams({
      response_type: 'code',
      client_id: o.clientId,
      redirect_uri: callbackUrl(),
      scope: o.scopes.join(' '),
      state,
      nonce: started.nonce,
      code_challenge: createHash('sha256').update(started.verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    return c.redirect(u.href, 302);
  });

  app.get('/authorize/oidc/callback', async (c) => {
    const state = c.req.query('state') ?? '';
    const started = state ? await as.store.take<Started>(`oidc:${state}`) : undefined;
    if (!started || getCookie(c, hooks.txnCookie) !== started.txn)
      return hooks.fail(c, 'invalid_request', 'this login is stale or was not started here; start again');
    const upstreamError = c.req.query('error');
    if (upstreamError) return hooks.fail(c, 'access_denied', `the identity provider answered ${upstreamError}`);
    try {
      const { d, keys } = await discover();
      const res = await fetch(d.token_endpoint, {
        method: 'POST',
        signal: AbortSignal.timeout(10_000),
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(o.clientId)}:${encodeURIComponent(o.clientSecret)}`).toString('base64')}`,
        },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: c.req.query('code') ?? '',
          redirect_uri: callbackUrl(),
          code_verifier: started.verifier,
        }),
      });
      const body = (await res.json()) as { id_token?: string; error?: string };
      if (!res.ok || !body.id_token) throw new Error(`token endpoint: ${body.error ?? `HTTP ${res.status}`}`);
      const { payload } = await jwtVerify(body.id_token, keys, { issuer: d.issuer, audience: o.clientId });
      if (payload.nonce !== started.nonce) throw new Error('id_token nonce mismatch');
      const sub = payload[o.subjectClaim];
      if (typeof sub !== 'string' || sub === '') throw new Error(`id_token has no ${o.subjectClaim}`);
      const g = payload[o.groupsClaim];
      const groups = Array.isArray(g) ? g.filter((x): x is string => typeof x === 'string').slice(0, 100) : [];
      return await hooks.finish(c, started.txn, { sub, groups, idp: o.issuer });
    } catch (err) {
      as.log.warn({ err: (err as Error).message }, 'oidc login failed');
      return hooks.fail(c, 'access_denied', 'login at the identity provider could not be verified');
    }
  });
}

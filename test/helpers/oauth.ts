// Drives Tollgate's authorization server over plain HTTP, as a browser would (cookies, forms), for
// tests about the protocol rather than the pages; and a PKCE pair.
import { createHash, randomBytes, scryptSync } from 'node:crypto';

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

const cheapHashes = new Map<string, string>();

/**
 * A `password_hash` for auth.oauth.users at the lowest cost the gateway accepts (scrypt N=1024), the
 * same for a password each time. A plain `password:` entry is hashed at N=16384 at every start and
 * reload (~40 ms of CPU) and each login derives at the entry's cost: tests that start many gateways
 * with local users give them this instead (tests about plain passwords keep `password:`).
 */
export function cheapPasswordHash(password: string): string {
  let hash = cheapHashes.get(password);
  if (hash === undefined) {
    const salt = randomBytes(16);
    const key = scryptSync(password, salt, 32, { N: 1024, r: 8, p: 1 });
    hash = `scrypt$1024$8$1$${salt.toString('base64url')}$${key.toString('base64url')}`;
    cheapHashes.set(password, hash);
  }
  return hash;
}

/** A cookie jar for one "browser". */
export class Jar {
  readonly cookies = new Map<string, string>();
  take(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair = ''] = c.split(';');
      const i = pair.indexOf('=');
      this.cookies.set(pair.slice(0, i), pair.slice(i + 1));
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

export const hidden = (html: string, name: string): string =>
  new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? '';

export interface AuthorizeParams {
  clientId: string;
  redirectUri: string;
  challenge: string;
  resource?: string;
  scope?: string;
  state?: string;
  extra?: Record<string, string>;
}

export function authorizeUrl(base: string, p: AuthorizeParams): string {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: p.clientId,
    redirect_uri: p.redirectUri,
    code_challenge: p.challenge,
    code_challenge_method: 'S256',
    ...(p.resource ? { resource: p.resource } : {}),
    ...(p.scope ? { scope: p.scope } : {}),
    state: p.state ?? 'st-1',
    ...p.extra,
  });
  return `${base}/authorize?${q}`;
}

export async function get(url: string, jar: Jar): Promise<Response> {
  const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
  jar.take(res);
  return res;
}

export async function postForm(
  url: string,
  jar: Jar,
  form: Record<string, string>,
  headers: Record<string, string> = {},
) {
  const res = await fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
  jar.take(res);
  return res;
}

/** Logs in (if needed) and consents; the authorization code from the redirect. */
export async function codeFor(
  base: string,
  p: AuthorizeParams,
  user: { name: string; password: string },
  jar = new Jar(),
): Promise<string> {
  let res = await get(authorizeUrl(base, p), jar);
  if (res.status === 200) {
    let html = await res.text();
    if (html.includes('action="/authorize/login"')) {
      res = await postForm(`${base}/authorize/login`, jar, {
        txn: hidden(html, 'txn'),
        csrf: hidden(html, 'csrf'),
        username: user.name,
        password: user.password,
      });
      if (res.status === 200) html = await res.text();
    }
    if (res.status === 200)
      res = await postForm(`${base}/authorize/consent`, jar, {
        txn: hidden(html, 'txn'),
        csrf: hidden(html, 'csrf'),
        decision: 'allow',
      });
  }
  const location = res.headers.get('location');
  if (!location) throw new Error(`no redirect (HTTP ${res.status}): ${await res.text()}`);
  const code = new URL(location).searchParams.get('code');
  if (!code) throw new Error(`no code in ${location}`);
  return code;
}

export async function tokenRequest(
  base: string,
  form: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Redeems an authorization code at /token, as a client does after the redirect. */
export function redeemCode(
  base: string,
  c: { code: string; verifier: string; clientId: string; redirectUri: string; resource?: string },
): Promise<{ status: number; body: Record<string, unknown> }> {
  return tokenRequest(base, {
    grant_type: 'authorization_code',
    code: c.code,
    code_verifier: c.verifier,
    client_id: c.clientId,
    redirect_uri: c.redirectUri,
    ...(c.resource === undefined ? {} : { resource: c.resource }),
  });
}

export async function register(
  base: string,
  meta: Record<string, unknown>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(meta),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The status and WWW-Authenticate of an MCP initialize sent with `token` to the endpoint `url`. */
export async function initializeWith(
  url: string,
  token: string,
): Promise<{ status: number; challenge: string | null }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }),
  });
  await res.body?.cancel();
  return { status: res.status, challenge: res.headers.get('www-authenticate') };
}

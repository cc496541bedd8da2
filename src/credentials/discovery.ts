// MCP authorization discovery (2025-11-25): the upstream's 401 names its protected resource
// metadata (RFC 9728) in WWW-Authenticate, else the well-known URIs; that names its authorization
// server, whose metadata (RFC 8414, or OpenID discovery) gives the endpoints. PKCE S256 is required.
import { GatewayError } from '../errors.js';
import { checkUrl, fetchJson, str, strings } from './fetch-json.js';
import { type Reach, upstreamReach } from './reach.js';

export interface AuthServerInfo {
  /** The upstream's resource URL, sent as `resource` (RFC 8707) in every authorization and token request. */
  resource: string;
  scopesSupported: string[];
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  registrationEndpoint: string | undefined;
  revocationEndpoint: string | undefined;
  tokenAuthMethods: string[];
  clientIdMetadataDocumentSupported: boolean;
  /** Where the AS's endpoints may be reached (public addresses, the upstream's host, allowed hosts). */
  reach: Reach;
}

/** `key="value"` parameters of a Bearer challenge. */
export function challengeParams(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  const bearer = /bearer\s+(.*)$/i.exec(header)?.[1] ?? '';
  for (const m of bearer.matchAll(/([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    const k = (m[1] ?? '').toLowerCase();
    if (!(k in out)) out[k] = (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1');
  }
  return out;
}

const bad = (m: string) => new GatewayError('upstream_bad_response', m);

/** http(s) metadata only on the upstream's own scheme: an https upstream is never sent to plain http. */
function sameSchemeOrBetter(url: string, upstream: URL, what: string): URL {
  const u = checkUrl(url, what);
  if (upstream.protocol === 'https:' && u.protocol !== 'https:') throw bad(`${what} must be https`);
  return u;
}

async function protectedResource(upstreamUrl: string): Promise<{ prm: Record<string, unknown>; scope?: string }> {
  const up = new URL(upstreamUrl);
  const probe = await fetchJson(upstreamUrl, {
    method: 'POST',
    what: 'upstream authorization probe',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'tollgate', version: '0' } },
    }),
  });
  const challenge = challengeParams(probe.headers.get('www-authenticate'));
  const candidates: string[] = [];
  // Only on the upstream's own origin: a hostile upstream must not aim the gateway at another host
  // (a cloud metadata service, an internal admin port). Elsewhere: the well-known URIs below.
  const named = challenge.resource_metadata;
  if (named && URL.canParse(named) && new URL(named).origin === up.origin) candidates.push(named);
  const path = up.pathname.replace(/\/$/, '');
  if (path) candidates.push(`${up.origin}/.well-known/oauth-protected-resource${path}`);
  candidates.push(`${up.origin}/.well-known/oauth-protected-resource`);
  for (const c of candidates) {
    const u = sameSchemeOrBetter(c, up, 'protected resource metadata URL');
    const r = await fetchJson(u.href, { what: 'protected resource metadata' });
    if (r.status === 200 && r.body) return { prm: r.body, ...(challenge.scope ? { scope: challenge.scope } : {}) };
  }
  throw bad(`upstream ${up.origin} publishes no protected resource metadata`);
}

function asMetadataUrls(issuer: URL): string[] {
  const path = issuer.pathname.replace(/\/$/, '');
  if (!path)
    return [
      `${issuer.origin}/.well-known/oauth-authorization-server`,
      `${issuer.origin}/.well-known/openid-configuration`,
    ];
  return [
    `${issuer.origin}/.well-known/oauth-authorization-server${path}`,
    `${issuer.origin}/.well-known/openid-configuration${path}`,
    `${issuer.origin}${path}/.well-known/openid-configuration`,
  ];
}

export async function discover(
  upstreamUrl: string,
  opts: { allowPrivateHosts?: readonly string[] } = {},
): Promise<AuthServerInfo> {
  const up = new URL(upstreamUrl);
  const reach = upstreamReach(up, opts.allowPrivateHosts ?? []);
  const { prm, scope } = await protectedResource(upstreamUrl);
  const resource = str(prm.resource) ?? upstreamUrl;
  // RFC 9728 §3.3: the metadata must be about this server, not another one's.
  if (new URL(checkUrl(resource, 'resource').href).origin !== up.origin)
    throw bad(`protected resource metadata names another server (${resource})`);
  const issuerText = strings(prm.authorization_servers)[0];
  if (!issuerText) throw bad('protected resource metadata names no authorization server');
  const issuer = sameSchemeOrBetter(issuerText, up, 'authorization server');
  for (const url of asMetadataUrls(issuer)) {
    const r = await fetchJson(url, { what: 'authorization server metadata', reach });
    if (r.status !== 200 || !r.body) continue;
    const m = r.body;
    if (str(m.issuer)?.replace(/\/$/, '') !== issuerText.replace(/\/$/, ''))
      throw bad(`authorization server metadata names issuer ${String(m.issuer)}, not ${issuerText}`);
    if (!strings(m.code_challenge_methods_supported).includes('S256'))
      throw bad('the authorization server does not support PKCE S256');
    const endpoint = (k: string, required: boolean): string | undefined => {
      const v = str(m[k]);
      if (!v) {
        if (required) throw bad(`authorization server metadata lacks ${k}`);
        return undefined;
      }
      return sameSchemeOrBetter(v, issuer, k).href;
    };
    const scopes = scope ? scope.split(' ') : strings(prm.scopes_supported);
    return {
      resource,
      scopesSupported: scopes,
      issuer: str(m.issuer) ?? issuerText,
      authorizationEndpoint: endpoint('authorization_endpoint', true) ?? '',
      tokenEndpoint: endpoint('token_endpoint', true) ?? '',
      registrationEndpoint: endpoint('registration_endpoint', false),
      revocationEndpoint: endpoint('revocation_endpoint', false),
      tokenAuthMethods: strings(m.token_endpoint_auth_methods_supported),
      clientIdMetadataDocumentSupported: m.client_id_metadata_document_supported === true,
      reach,
    };
  }
  throw bad(`authorization server ${issuerText} publishes no metadata`);
}

// OAuth 2.0 Protected Resource Metadata (RFC 9728), served at /.well-known/oauth-protected-resource
// and at the path-suffixed form for each MCP endpoint, as MCP authorization (2025-06-18+) expects.
import type { Handler } from 'hono';
import { loopbackAlias } from '../oauth/resources.js';

export interface ProtectedResourceOptions {
  /** The gateway's public base URL (no path); derived from the request when not configured. */
  publicBase: string | undefined;
  /** The resource URL of `/mcp` (the JWT audience); default `<base>/mcp`. A function: known once listening. */
  resource: string | undefined | (() => string | undefined);
  /** A function when one of them (Tollgate's own) is known only once listening. */
  authorizationServers: readonly string[] | (() => readonly string[]);
  scopes: readonly string[];
  /**
   * The resource is the loopback address listened on (neither auth.resource nor public_url set):
   * a request that reached it by another loopback name (`localhost` for 127.0.0.1) is told the
   * resource by that name, the one its client was given (src/oauth/resources.ts, loopbackAlias).
   */
  loopbackAliases?: boolean;
  /**
   * The metadata of the legacy SSE endpoints names `<base>/sse` (Tollgate's own server takes it for
   * the /mcp resource, src/oauth/resources.ts): clients refuse a resource that is no prefix of the
   * URL they were given, so `/mcp` there stopped every SSE client's login.
   */
  sseResource?: boolean;
}

export function baseUrlOf(requestUrl: string, configured: string | undefined): string {
  return (configured ?? new URL(requestUrl).origin).replace(/\/$/, '');
}

/** The metadata URL for the endpoint a request hit (used in WWW-Authenticate). */
export function metadataUrlFor(requestUrl: string, publicBase: string | undefined): string {
  const u = new URL(requestUrl);
  const path = /^\/(?:mcp|sse)(?:\/|$)/.test(u.pathname) ? u.pathname : '';
  return `${baseUrlOf(requestUrl, publicBase)}/.well-known/oauth-protected-resource${path}`;
}

/** `resource` by the loopback name the request used, when aliases are on and it used another one. */
function aliased(resource: string, requestUrl: string, on: boolean): string {
  if (!on) return resource;
  const asked = `${new URL(requestUrl).origin}${new URL(resource).pathname}`;
  return loopbackAlias(resource, asked) === undefined ? resource : asked;
}

export function protectedResourceMetadata(opts: ProtectedResourceOptions): Handler {
  return (c) => {
    const base = baseUrlOf(c.req.url, opts.publicBase);
    const own = typeof opts.resource === 'function' ? opts.resource() : opts.resource;
    // One resource (the JWT audience) for /mcp and every /mcp/<server>: advertising `/mcp/<server>`
    // sent clients after tokens the gateway then refused as "wrong audience". Clients accept a
    // resource that is a path prefix of the endpoint they use (RFC 9728 §3.3, MCP SDK).
    const mcp = own === undefined ? `${base}/mcp` : aliased(own, c.req.url, opts.loopbackAliases === true);
    const sse = opts.sseResource === true && /\/oauth-protected-resource\/sse(?:\/|$)/.test(c.req.path);
    const resource = sse ? mcp.replace(/\/mcp$/, '/sse') : mcp;
    const body: Record<string, unknown> = {
      resource,
      authorization_servers:
        typeof opts.authorizationServers === 'function' ? opts.authorizationServers() : opts.authorizationServers,
      bearer_methods_supported: ['header'],
      resource_name: 'Tollgate MCP gateway',
    };
    if (opts.scopes.length > 0) body.scopes_supported = opts.scopes;
    return c.json(body, 200, { 'cache-control': 'max-age=300' });
  };
}

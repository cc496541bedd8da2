// RFC 8707 resource indicators: which resources Tollgate issues tokens for, and which of them a
// request path accepts. `/mcp` (the whole gateway; also valid on every /mcp/<server>, which the
// protected resource metadata points at /mcp; `/sse` names it too), `/mcp/<server>` (one server
// only) and `/v1` (the LLM API). A token for one is refused on the others.

export interface ResourceSpace {
  /** The gateway's /mcp resource URL (auth.resource or <base>/mcp). */
  mcp(): string;
  servers: readonly string[];
  llm: boolean;
  /**
   * The resource is the loopback address listened on (neither auth.resource nor server.public_url
   * set): a client that reached the gateway as `localhost` asks for `http://localhost:<port>/mcp`,
   * which is the same resource (see loopbackAlias).
   */
  loopbackAliases?: boolean;
}

const trim = (s: string): string => s.replace(/\/$/, '');

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * `url` with `canonical`'s origin, when both are the same port on loopback names (localhost,
 * 127.0.0.1, [::1]): one gateway on this machine, whatever name the client used. Otherwise
 * undefined. Clients check the protected resource metadata's `resource` against the URL they were
 * given (the MCP SDK refuses a login otherwise), so a gateway known as 127.0.0.1 must still answer
 * `claude mcp add … http://localhost:8080/mcp`.
 */
export function loopbackAlias(canonical: string, url: string): string | undefined {
  let c: URL;
  let u: URL;
  try {
    c = new URL(canonical);
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (c.protocol !== u.protocol || c.port !== u.port || !LOOPBACK.has(c.hostname) || !LOOPBACK.has(u.hostname))
    return undefined;
  return `${c.origin}${u.pathname}${u.search}${u.hash}`;
}

/** The base the other resources hang off: the /mcp resource without its `/mcp`. */
function baseOf(space: ResourceSpace): string {
  return trim(space.mcp()).replace(/\/mcp$/, '');
}

/** The canonical resource a client asked for, or undefined when Tollgate does not serve it. */
export function knownResource(space: ResourceSpace, asked: string): string | undefined {
  let u: URL;
  try {
    u = new URL(asked);
  } catch {
    return undefined;
  }
  if (u.hash || u.search) return undefined;
  const r = trim((space.loopbackAliases && loopbackAlias(space.mcp(), u.href)) || u.href);
  const mcp = trim(space.mcp());
  if (r === mcp) return mcp;
  // The legacy SSE endpoints' metadata names `<base>/sse` (src/http/protected-resource.ts): the same
  // resource as /mcp, whose tokens /sse and /sse/<server> accept.
  if (mcp.endsWith('/mcp') && r === `${baseOf(space)}/sse`) return mcp;
  for (const s of space.servers) if (r === `${mcp}/${s}`) return r;
  if (space.llm && r === `${baseOf(space)}/v1`) return r;
  return undefined;
}

/** The audiences a request to `path` accepts. */
export function audiencesFor(space: ResourceSpace, path: string): string[] {
  const mcp = trim(space.mcp());
  if (path.startsWith('/v1/') || path === '/v1') return [`${baseOf(space)}/v1`];
  const m = /^\/(?:mcp|sse)\/([^/]+)$/.exec(path);
  if (m) return [mcp, `${mcp}/${decodedSegment(m[1] ?? '')}`];
  return [mcp];
}

/** A path segment decoded; one that is no valid percent-encoding names no server, so it stays as sent. */
function decodedSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

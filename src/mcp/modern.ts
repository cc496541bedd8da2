// Agent-facing MCP 2026-07-28 (stateless): every request carries its own envelope (protocol
// version, client capabilities) and mirrors method and name in headers. No session: the relay gets
// a scope built from the request alone, so any gateway instance can serve it.
import type { StreamBounds } from './stream-bounds.js';
import type { Context } from 'hono';
import type { AppEnv } from '../http/env.js';
import { cutOf, headerOf, incomingOf } from '../http/node-io.js';
import { GatewayError, TollgateCode } from '../errors.js';
import type { Relay } from '../relay/relay.js';
import type { View } from '../relay/view.js';
import { LOG_LEVELS } from './agent-session.js';
import { PostExchange } from './post-exchange.js';
import { echoHeaders } from '../http/request-context.js';
import {
  META_CAPABILITIES,
  META_CLIENT_INFO,
  META_LOG_LEVEL,
  META_SERVER_INFO,
  MODERN_VERSIONS,
  decodeHeaderValue,
} from './era.js';
import { declarationProblem } from './declarations.js';
import {
  isObject,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type RequestId,
} from './jsonrpc.js';
import { VERSION } from '../version.js';
import { sseResponse } from './sse-response.js';
import type { ListenFilter } from '../relay/listen.js';
import type { ConnectionCap } from './connection-cap.js';

type Ctx = Context<AppEnv>;

/** 2025 methods a 2026 client must not use: they answer 404 / -32601 like any unknown method. */
const REMOVED = new Set([
  'initialize',
  'ping',
  'logging/setLevel',
  'resources/subscribe',
  'resources/unsubscribe',
  'notifications/initialized',
]);
/** Results that carry cache hints in 2026. */
const CACHEABLE = new Set([
  'tools/list',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'server/discover',
]);
/** Which param each method mirrors in `Mcp-Name`. */
const NAME_PARAM = new Map<string, 'name' | 'uri'>([
  ['tools/call', 'name'],
  ['prompts/get', 'name'],
  ['resources/read', 'uri'],
]);

export interface ModernDeps {
  relay: Relay;
  keepaliveMs: number;
  streams: ConnectionCap;
  serverName: string;
  streamBounds: StreamBounds;
}

const reply = (c: Ctx, err: GatewayError, id: RequestId | null): Response => {
  const retry = err.data?.retryAfterSeconds;
  return c.body(JSON.stringify(err.toJsonRpc(id)), err.httpStatus as 400, {
    'content-type': 'application/json',
    ...(typeof retry === 'number' ? { 'retry-after': String(retry) } : {}),
  });
};

/** Checks the headers against the body; returns the failure, if any. */
function checkHeaders(c: Ctx, m: JsonRpcRequest | JsonRpcNotification, version: string): GatewayError | undefined {
  // Header against body first: a disagreement is a broken request whatever the version.
  const header = headerOf(c, 'mcp-protocol-version');
  if (header !== version)
    return new GatewayError(
      'header_mismatch',
      `MCP-Protocol-Version header (${header ?? 'missing'}) must equal the request's ${version}`,
    );
  if (!(MODERN_VERSIONS as readonly string[]).includes(version)) {
    return new GatewayError('version_unsupported', `unsupported protocol version ${version}`, {
      supported: [...MODERN_VERSIONS],
      requested: version,
    });
  }
  if (!('id' in m)) return undefined;
  const method = headerOf(c, 'mcp-method');
  if (method !== m.method)
    return new GatewayError(
      'header_mismatch',
      `Mcp-Method header (${method ?? 'missing'}) must equal the method ${m.method}`,
    );
  const param = NAME_PARAM.get(m.method);
  if (param) {
    const raw = headerOf(c, 'mcp-name');
    const value = m.params?.[param];
    if (raw === undefined || decodeHeaderValue(raw) !== value) {
      return new GatewayError('header_mismatch', `Mcp-Name header must equal params.${param}`, {
        mismatch: { header: 'Mcp-Name' },
      });
    }
  }
  return undefined;
}

/** The 2026 envelope leaves with us: upstreams get their own (or none, when they are 2025-era). */
function stripEnvelope(params: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!params || !isObject(params._meta)) return params;
  const meta: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params._meta)) if (!k.startsWith('io.modelcontextprotocol/')) meta[k] = v;
  const { _meta: _dropped, ...rest } = params;
  return Object.keys(meta).length > 0 ? { ...rest, _meta: meta } : rest;
}

/** The request's `Mcp-Param-*` headers: a proxy forwards them unchanged, known to it or not. */
function paramHeaders(c: Ctx): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  const incoming = incomingOf(c);
  const all: Iterable<[string, string | string[] | undefined]> = incoming
    ? Object.entries(incoming.headers)
    : c.req.raw.headers.entries();
  for (const [k, v] of all) {
    if (!k.toLowerCase().startsWith('mcp-param-') || v === undefined) continue;
    (out ??= {})[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** `params.notifications` of subscriptions/listen, checked by hand; a string says what is wrong. */
function listenFilter(params: Record<string, unknown> | undefined): ListenFilter | string {
  const n = params?.notifications;
  if (!isObject(n)) return 'params.notifications must be an object';
  const filter: ListenFilter = {};
  for (const flag of ['toolsListChanged', 'promptsListChanged', 'resourcesListChanged'] as const) {
    const v = n[flag];
    if (v !== undefined && typeof v !== 'boolean') return `params.notifications.${flag} must be a boolean`;
    if (v === true) filter[flag] = true;
  }
  const uris = n.resourceSubscriptions;
  if (uris !== undefined) {
    if (!Array.isArray(uris) || uris.some((u) => typeof u !== 'string'))
      return 'params.notifications.resourceSubscriptions must be a list of URIs';
    filter.resourceSubscriptions = uris as string[];
  }
  return filter;
}

export function modernPost(deps: ModernDeps) {
  const { relay } = deps;
  const serverInfo = { name: deps.serverName, title: 'Tollgate MCP gateway', version: VERSION };

  const decorate = (method: string, res: JsonRpcResponse): JsonRpcResponse => {
    if (!('result' in res)) return res;
    const meta = isObject(res.result._meta) ? res.result._meta : {};
    const result: Record<string, unknown> = {
      resultType: 'complete',
      ...res.result,
      _meta: { ...meta, [META_SERVER_INFO]: serverInfo },
    };
    // Tollgate's answers depend on the agent's policy: never shareable across agents.
    if (CACHEABLE.has(method) && result.resultType === 'complete')
      Object.assign(result, { ttlMs: 0, cacheScope: 'private' });
    return { ...res, result };
  };

  return async function handle(
    c: Ctx,
    view: View,
    m: JsonRpcRequest | JsonRpcNotification,
    version: string,
    meta: Record<string, unknown>,
    acceptsJson: boolean,
  ): Promise<Response> {
    const id = 'id' in m ? m.id : null;
    const bad = checkHeaders(c, m, version);
    if (bad) return reply(c, bad, id);
    const caps = meta[META_CAPABILITIES];
    if (!isObject(caps))
      return reply(c, new GatewayError('invalid_params', `params._meta["${META_CAPABILITIES}"] must be an object`), id);
    // Forwarded in every upstream envelope: capped like an initialize's declarations.
    const declared =
      declarationProblem(`params._meta["${META_CAPABILITIES}"]`, caps) ??
      declarationProblem(`params._meta["${META_CLIENT_INFO}"]`, meta[META_CLIENT_INFO]);
    if (declared) return reply(c, new GatewayError('invalid_params', declared), id);
    if (!('id' in m)) return c.body(null, 202); // 2026 notifications carry nothing we act on over HTTP
    const req = m as JsonRpcRequest;
    if (REMOVED.has(req.method))
      return reply(
        c,
        new GatewayError('method_not_found', `method not found: ${req.method} (not part of ${version})`),
        req.id,
      );
    const level = meta[META_LOG_LEVEL];
    const scope = relay.scopeFor(c.get('agent'), undefined, view, {
      requestId: c.get('requestId'),
      traceparent: c.get('traceparent'),
      http: c.get('telemetry'),
    });
    scope.capabilities = caps;
    const mirrored = paramHeaders(c);
    if (mirrored) scope.paramHeaders = mirrored;
    scope.logLevel =
      typeof level === 'string' && LOG_LEVELS.includes(level as (typeof LOG_LEVELS)[number])
        ? LOG_LEVELS.indexOf(level as (typeof LOG_LEVELS)[number])
        : null;
    if (req.method === 'subscriptions/listen') {
      const filter = listenFilter(req.params);
      if (typeof filter === 'string')
        return reply(c, new GatewayError('invalid_params', `Invalid params: ${filter}`), req.id);
      const full = deps.streams.refusal(scope.identity.id);
      if (full) return reply(c, full, req.id);
      const opened = await relay.openListen(scope, req, filter);
      if (!('stream' in opened))
        return c.body(JSON.stringify(decorate(req.method, opened)), 200, {
          'content-type': 'application/json',
          ...echoHeaders(c),
        });
      // Checked above; forced here so an await in between cannot lose an opened listener.
      const slot = deps.streams.force(scope.identity.id);
      return sseResponse(opened.stream, {
        keepaliveMs: deps.keepaliveMs,
        headers: echoHeaders(c),
        slot,
        onCancel: () => relay.listen.close(opened),
        cut: cutOf(c),
      });
    }
    const agent = scope.identity.id;
    const slot = acceptsJson ? undefined : deps.streams.take(agent);
    if (slot instanceof GatewayError) return reply(c, slot, req.id);
    const exchange = new PostExchange(undefined, {
      acceptsJson,
      keepaliveMs: deps.keepaliveMs,
      streams: deps.streams,
      agent,
      slot,
      headers: echoHeaders(c),
      batch: false,
      ids: [req.id],
      bounds: deps.streamBounds,
      cut: cutOf(c),
    });
    const answer =
      req.method === 'server/discover'
        ? Promise.resolve(relay.discoverResult(scope, req.id))
        : relay.handleRequest(scope, { ...req, params: stripEnvelope(req.params) }, exchange);
    void answer.then((res) => {
      const out = decorate(req.method, res);
      // 2026 puts some errors in the HTTP status too (when the answer is still plain JSON).
      const code = 'error' in out ? out.error.code : 0;
      exchange.answer(out, code === -32601 ? 404 : code === TollgateCode.MissingCapability ? 400 : 200);
    });
    return exchange.response;
  };
}

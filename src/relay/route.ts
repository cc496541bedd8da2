// Routing of one agent request to its handler (lists, ping, named targets, completion, unknown methods); separate so relay.ts keeps to the relay's state and pipeline.
import { isObject, resultMessage, type JsonRpcRequest, type JsonRpcResponse } from '../mcp/jsonrpc.js';
import { GatewayError } from '../errors.js';
import type { RuntimeConfig } from '../config/runtime.js';
import type { CatalogKind, Entry } from '../upstream/catalog.js';
import type { AccessKind } from '../policy/access.js';
import type { Upstream } from '../upstream/upstream.js';
import type { Target } from './view.js';
import { listEntries } from './lists.js';
import type { Exchange, McpCall, RequestScope } from './scope.js';
import type { AgentSession } from '../mcp/agent-session.js';
import { ACCESS_OF } from './fanout.js';
import { setLogLevel } from './agent-messages.js';
import { listedUri, normalizedTarget } from './resource-uris.js';
import { completionShaper } from './completion-filter.js';
import { quotedName } from '../mcp/quoted-name.js';

/** MCP request methods, folded (see `fold`): other spellings of them are never relayed. */
const MCP_METHODS = new Set(
  'initialize ping tools/list tools/call prompts/list prompts/get resources/list resources/templates/list resources/read resources/subscribe resources/unsubscribe completion/complete logging/setlevel server/discover subscriptions/listen sampling/createmessage elicitation/create roots/list tasks/get tasks/list tasks/result tasks/cancel'.split(
    ' ',
  ),
);

/**
 * A method name as MCP_METHODS holds it: NFKC, lower case, without the white space, controls and
 * invisible format characters (zero-width space, …) a server trimming or cleaning names would drop.
 */
const fold = (method: string): string =>
  method
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\s\p{Cc}\p{Cf}]/gu, '');

// Maps, not object literals: method names come from agents (`constructor` is not a list).
const LIST_KIND = new Map<string, CatalogKind>([
  ['tools/list', 'tools'],
  ['prompts/list', 'prompts'],
  ['resources/list', 'resources'],
  ['resources/templates/list', 'resourceTemplates'],
]);

/** Subscribes asked for per session and not answered yet: they count against the cap too. */
const subscribing = new WeakMap<AgentSession, number>();

/**
 * A new subscription, within mcp.max_subscriptions_per_session: each one is kept on the session
 * and, with sessions.shared, the whole list is republished to Redis and every instance. Recorded
 * only once policy, limits and the upstream said yes: a refused subscription must not bring the
 * agent updates of a resource it may not read, nor grow the state shared in Redis.
 */
function subscribeWithin(
  r: RouteHost,
  session: AgentSession,
  uri: string,
  send: () => Promise<JsonRpcResponse>,
): Promise<JsonRpcResponse> {
  const max = r.cfg.mcp.maxSubscriptionsPerSession;
  const pending = subscribing.get(session) ?? 0;
  if (session.subscriptions.size + pending >= max)
    throw new GatewayError(
      'invalid_params',
      `too many resource subscriptions on this session (limit ${max}); unsubscribe from one first`,
    );
  subscribing.set(session, pending + 1);
  const done = (): void => void subscribing.set(session, (subscribing.get(session) ?? 1) - 1);
  return send().then(
    (res) => {
      done();
      if ('result' in res && !session.subscriptions.has(uri)) {
        session.subscriptions.add(uri);
        session.shareState(r.cfg.sessions.maxAgeMs);
      }
      return res;
    },
    (err: unknown) => {
      done();
      throw err;
    },
  );
}

/** What routing needs from the relay. */
export interface RouteHost {
  readonly cfg: RuntimeConfig;
  /** Whether tool lists show a tool at all, whoever asks (pinning hides changed tools). */
  toolListed(upstream: Upstream, tool: Entry): boolean;
  canonical(server: string, kind: AccessKind, native: string): string;
  runSteps(
    scope: RequestScope,
    request: JsonRpcRequest,
    target: McpCall['target'],
    last: (call: McpCall) => Promise<JsonRpcResponse>,
  ): Promise<JsonRpcResponse>;
  routed(
    scope: RequestScope,
    req: JsonRpcRequest,
    exchange: Exchange,
    t: Target,
    params: Record<string, unknown> | undefined,
    kind: AccessKind,
    args?: unknown,
    shape?: (result: Record<string, unknown>) => Record<string, unknown>,
  ): Promise<JsonRpcResponse>;
}

/**
 * The request's handler and its answer. Not async (a promise and microtask turns per call on the
 * hot path): a request that cannot be routed throws, and the relay's handleRequest runs the
 * pipeline for its audit record either way.
 */
export function routeRequest(
  r: RouteHost,
  scope: RequestScope,
  req: JsonRpcRequest,
  exchange: Exchange,
): Promise<JsonRpcResponse> {
  const { view } = scope;
  const params = req.params ?? {};
  const kind = LIST_KIND.get(req.method);
  if (kind) {
    const visible = (u: Upstream, k: CatalogKind, e: Entry): boolean => {
      if (k === 'tools' && !r.toolListed(u, e)) return false;
      // Resources are judged in normal form, as reads are (a URI that cannot be normalised is hidden).
      const native = k === 'resources' ? listedUri(e) : String(k === 'resourceTemplates' ? e.uriTemplate : e.name);
      return native !== null && scope.access.visible(ACCESS_OF[k], r.canonical(u.name, ACCESS_OF[k], native));
    };
    return r.runSteps(scope, req, undefined, async () =>
      resultMessage(req.id, listEntries(view, kind, params.cursor, r.cfg.mcp.listPageSize, visible)),
    );
  }
  switch (req.method) {
    case 'ping':
      return Promise.resolve(resultMessage(req.id, {}));
    case 'tools/call':
    case 'prompts/get': {
      const t = mustResolve(
        view.resolveName(stringParam(params.name, 'params.name')),
        req.method === 'tools/call' ? 'tool' : 'prompt',
        params.name,
      );
      return r.routed(
        scope,
        req,
        exchange,
        t,
        { ...params, name: t.native },
        req.method === 'tools/call' ? 'tool' : 'prompt',
        params.arguments,
      );
    }
    case 'resources/read':
    case 'resources/subscribe':
    case 'resources/unsubscribe': {
      // Policy judges, and the upstream receives, the normal form (no `..`, no escaped dots).
      const t = normalizedTarget(
        mustResolve(view.resolveUri(stringParam(params.uri, 'params.uri')), 'resource', params.uri),
      );
      const uri = view.uri(t.upstream, t.native); // what its resources/updated will be matched against
      const session = scope.session;
      if (req.method === 'resources/unsubscribe' && session) {
        session.subscriptions.delete(uri);
        session.shareState(r.cfg.sessions.maxAgeMs);
      }
      if (req.method === 'resources/subscribe' && session && !session.subscriptions.has(uri))
        return subscribeWithin(r, session, uri, () =>
          r.routed(scope, req, exchange, t, { ...params, uri: t.native }, 'resource'),
        );
      return r.routed(scope, req, exchange, t, { ...params, uri: t.native }, 'resource');
    }
    case 'completion/complete':
      return complete(r, scope, req, exchange, params);
    case 'logging/setLevel':
      return setLogLevel(scope, req, params, r.cfg.sessions.maxAgeMs);
    default: {
      // A spelling of an MCP method (`Tools/Call`) is not relayed: an upstream matching methods
      // loosely would run it without the checks the gateway gives the real one.
      if (MCP_METHODS.has(fold(req.method)))
        throw new GatewayError('method_not_found', `method not found: ${req.method}`);
      // Unknown methods are relayed: to the one upstream of a per-server view, or wherever the
      // params name or URI points.
      const t = view.namespaced
        ? ((typeof params.name === 'string' ? view.resolveName(params.name) : undefined) ??
          (typeof params.uri === 'string' ? view.resolveUri(params.uri) : undefined))
        : { upstream: view.upstreams[0] as Upstream, native: '' };
      if (!t) throw new GatewayError('method_not_found', `method not found: ${req.method}`);
      const p = !view.namespaced
        ? req.params
        : typeof params.name === 'string'
          ? { ...params, name: t.native }
          : { ...params, uri: t.native };
      // Policies see an unknown method as a tool named after the method (`<server>__custom/x`).
      return r.routed(scope, req, exchange, { upstream: t.upstream, native: req.method }, p, 'tool', params);
    }
  }
}

function mustResolve(t: Target | undefined, what: string, given: unknown): Target {
  if (!t) throw new GatewayError('unknown_target', `unknown ${what}: ${quotedName(given)}`);
  return t;
}

function complete(
  r: RouteHost,
  scope: RequestScope,
  req: JsonRpcRequest,
  exchange: Exchange,
  params: Record<string, unknown>,
): Promise<JsonRpcResponse> {
  const ref = isObject(params.ref) ? params.ref : {};
  // Values are filtered as lists are; a ref/resource template must be exactly one the upstream
  // lists (the known-names step), so it is not normalised here.
  const shape = completionShaper(params, scope.access, (u, uri) => r.canonical(u.name, 'resource', uri));
  if (ref.type === 'ref/prompt') {
    const t = mustResolve(scope.view.resolveName(stringParam(ref.name, 'params.ref.name')), 'prompt', ref.name);
    const p = { ...params, ref: { ...ref, name: t.native } };
    return r.routed(scope, req, exchange, t, p, 'prompt', undefined, shape(t, undefined));
  }
  if (ref.type === 'ref/resource') {
    const t = mustResolve(scope.view.resolveUri(stringParam(ref.uri, 'params.ref.uri')), 'resource', ref.uri);
    const p = { ...params, ref: { ...ref, uri: t.native } };
    return r.routed(scope, req, exchange, t, p, 'resource', undefined, shape(t, t.native));
  }
  throw new GatewayError('invalid_params', 'completion/complete needs ref/prompt or ref/resource');
}

/** A name or URI param as a string; anything else (an object, a number) is the agent's error, -32602. */
function stringParam(v: unknown, where: string): string {
  if (typeof v !== 'string') throw new GatewayError('invalid_params', `Invalid params: ${where} must be a string`);
  return v;
}

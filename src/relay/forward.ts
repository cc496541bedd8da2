// Sends one agent request to its upstream and brings back everything it causes: the response,
// progress (with the agent's own token), logs, and server-to-client requests (sampling,
// elicitation, roots) which go to this agent and whose answers are routed back.
import {
  errorMessage,
  isObject,
  progressTokenOf,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../mcp/jsonrpc.js';
import { LOG_LEVELS, type AgentSession } from '../mcp/agent-session.js';
import type { Upstream } from '../upstream/upstream.js';
import { UndeliveredError, type Cancellation, type UpstreamSession } from '../upstream/session.js';
import type { Exchange, McpCall, RequestScope } from './scope.js';
import { rewriteResult } from './rewrite.js';
import { GatewayError, TollgateCode } from '../errors.js';
import { bridgeInput, isInputRequired } from './input-bridge.js';
import type { AgentEnvelope } from '../upstream/modern-wire.js';

/** resources/subscribe holds a subscription (true), resources/unsubscribe lets it go (false). */
const SUBSCRIPTION = new Map([
  ['resources/subscribe', true],
  ['resources/unsubscribe', false],
]);

/** Which client capability a server-to-client request needs. */
const NEEDS_CAPABILITY = new Map<string, string>([
  ['sampling/createMessage', 'sampling'],
  ['elicitation/create', 'elicitation'],
  ['roots/list', 'roots'],
]);

export async function forward(
  scope: RequestScope,
  req: JsonRpcRequest,
  upstream: Upstream,
  params: Record<string, unknown> | undefined,
  exchange: Exchange,
  headers: Readonly<Record<string, string>> | undefined,
  call: McpCall,
): Promise<JsonRpcResponse> {
  const found = upstream.sessionFor(
    scope.session?.id,
    scope.capabilities,
    scope.agentId,
    scope.session?.placement?.[upstream.name],
  );
  let session = found instanceof Promise ? await found : found;
  // Agents share upstream sessions: subscribe upstream with the first of them, unsubscribe with the last.
  const holding = SUBSCRIPTION.get(req.method);
  const holder = scope.session?.id ?? scope.agentId;
  const uri = holding === undefined ? '' : String(params?.uri ?? '');
  if (
    holding !== undefined &&
    !(holding ? upstream.holds.hold(session, uri, holder) : upstream.holds.release(session, uri, holder))
  ) {
    return { jsonrpc: '2.0', id: req.id, result: {} };
  }
  const started = performance.now();
  const agentToken = progressTokenOf(req.params);
  const cancellation: Cancellation = { cancel: undefined };
  scope.session?.inFlight.set(req.id, cancellation);
  // A stateless (2026) agent cannot be asked anything mid-call: when the upstream needs a client
  // capability the agent did not declare, the call ends with -32021 naming it.
  let missing: GatewayError | undefined;
  const onMissingCapability = (capability: string): void => {
    missing ??= new GatewayError(
      'missing_capability',
      `this call needs the client capability ${capability}, which the request did not declare`,
      {
        requiredCapabilities: { [capability]: {} },
      },
    );
    cancellation.cancel?.();
  };
  const agent = agentEnvelope(scope);
  const send = (to: UpstreamSession, p = params): Promise<JsonRpcResponse> =>
    to.request(req.method, p, {
      onRelated: (m) => relayRelated(scope, exchange, to, upstream.name, m, agentToken, onMissingCapability),
      cancellation,
      headers,
      agent,
      timeoutMs: upstream.cfg.timeouts.requestMs,
      maxTotalMs: upstream.cfg.timeouts.maxTotalMs,
    });
  try {
    let res: JsonRpcResponse;
    try {
      res = await send(session);
    } catch (err) {
      // A replica that refused the connection never saw the call: the agent's session moves to
      // another replica and the call goes there, once.
      if (!(err instanceof UndeliveredError)) throw err;
      upstream.report(session, 'unreachable');
      const next = await upstream.sessionFor(
        scope.session?.id,
        scope.capabilities,
        scope.agentId,
        scope.session?.placement?.[upstream.name],
      );
      if (next === session) throw err;
      session = next;
      res = await send(session);
    }
    // A 2026 upstream asks a 2025 agent in real requests, round by round (a 2026 agent gets the
    // input_required result itself and retries on its own).
    const agentSession = scope.session;
    if (agentSession && isInputRequired(res)) {
      const to = session;
      const ctx = {
        scope: { ...scope, session: agentSession },
        exchange,
        upstreamName: upstream.name,
        roundMs: upstream.cfg.timeouts.maxTotalMs,
        onCancel: (c: (() => void) | undefined) => (cancellation.cancel = c),
      };
      res = await bridgeInput(ctx, res, (extra) => send(to, { ...params, ...extra }));
    }
    call.upstreamMs = performance.now() - started;
    upstream.report(session, 'answered');
    if ('error' in res && holding) upstream.holds.release(session, uri, holder);
    if ('error' in res) return errorMessage(req.id, res.error);
    const result = scope.session && session.isModern ? asLegacyResult(res.result) : res.result;
    return { jsonrpc: '2.0', id: req.id, result: rewriteResult(req.method, result, scope.view, upstream) };
  } catch (err) {
    call.upstreamMs = performance.now() - started; // it was forwarded: a timeout is the upstream's
    if (err instanceof GatewayError && (err.kind === 'upstream_unavailable' || err.kind === 'upstream_timeout'))
      upstream.report(session, 'failed');
    if (err instanceof GatewayError && err.kind === 'cancelled') call.lingerMs = upstream.cfg.timeouts.requestMs;
    throw missing ?? err;
  } finally {
    scope.session?.inFlight.delete(req.id);
    call.upstreamSession = session;
  }
}

/** What a 2026 upstream's envelope says of the agent: its capabilities and log level. */
function agentEnvelope(scope: RequestScope): AgentEnvelope {
  const level = scope.session ? scope.session.logLevel : scope.logLevel;
  return {
    capabilities: scope.capabilities,
    logLevel: level === null || level === undefined ? undefined : LOG_LEVELS[level],
  };
}

/** 2026-only result fields mean nothing to a 2025 agent (and a strict client may refuse them). */
function asLegacyResult(result: Record<string, unknown>): Record<string, unknown> {
  const { resultType: _t, ttlMs: _ttl, cacheScope: _scope, ...rest } = result;
  if (!isObject(rest._meta)) return rest;
  const meta: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest._meta)) if (!k.startsWith('io.modelcontextprotocol/')) meta[k] = v;
  const { _meta: _dropped, ...bare } = rest;
  return Object.keys(meta).length > 0 ? { ...bare, _meta: meta } : bare;
}

export function levelAllows(min: number | null | undefined, msg: JsonRpcMessage): boolean {
  if (min === null) return false;
  if (min === undefined || !('method' in msg) || !isObject(msg.params)) return true;
  const level = LOG_LEVELS.indexOf(msg.params.level as (typeof LOG_LEVELS)[number]);
  return level < 0 || level >= min;
}

function relayRelated(
  scope: RequestScope,
  exchange: Exchange,
  upstreamSession: UpstreamSession,
  upstreamName: string,
  m: JsonRpcMessage,
  agentToken: string | number | undefined,
  onMissingCapability: (capability: string) => void,
): void {
  if (!('method' in m)) return;
  if (!('id' in m)) {
    if (m.method === 'notifications/progress') {
      if (agentToken === undefined || !isObject(m.params)) return;
      exchange.emit({ ...m, params: { ...m.params, progressToken: agentToken } });
      return;
    }
    if (m.method === 'notifications/cancelled') {
      if (scope.session) withdrawServerRequest([scope.session], upstreamSession, m);
      return;
    }
    if (
      m.method === 'notifications/message' &&
      !levelAllows(scope.session ? scope.session.logLevel : scope.logLevel, m)
    )
      return;
    exchange.emit(m);
    return;
  }
  const needed = NEEDS_CAPABILITY.get(m.method);
  if (!scope.session && needed !== undefined && !(needed in scope.capabilities)) {
    upstreamSession.respond(errorMessage(m.id, { code: -32601, message: `the agent does not support ${m.method}` }));
    onMissingCapability(needed);
    return;
  }
  deliverServerRequest(scope, upstreamSession, upstreamName, m, (msg) => exchange.emit(msg));
}

/**
 * The upstream withdrew (`notifications/cancelled`) a request it sent us: the agent it was forwarded
 * to hears of it under the id it was given. Nobody else does, and a request id this upstream session
 * never sent us cancels nothing (relayed as it is, it would name another request of the agent's:
 * one another upstream sent, or its own call).
 */
export function withdrawServerRequest(
  sessions: Iterable<AgentSession>,
  upstreamSession: UpstreamSession,
  m: JsonRpcNotification,
): void {
  const rid = isObject(m.params) ? m.params.requestId : undefined;
  if (typeof rid !== 'string' && typeof rid !== 'number') return;
  for (const s of sessions) {
    for (const [id, r] of s.serverRequests) {
      if (r.upstreamSession !== upstreamSession || r.upstreamRequestId !== rid) continue;
      s.takeServerRequest(id);
      s.send({ ...m, params: { ...m.params, requestId: id } });
      return;
    }
  }
}

/** Forwards an upstream's request to the agent, or answers it with a clear error when we cannot. */
export function deliverServerRequest(
  scope: RequestScope,
  upstreamSession: UpstreamSession,
  upstreamName: string,
  m: JsonRpcRequest,
  send: (msg: JsonRpcMessage) => void,
): void {
  if (m.method === 'ping') {
    upstreamSession.respond({ jsonrpc: '2.0', id: m.id, result: {} });
    return;
  }
  const needed = NEEDS_CAPABILITY.get(m.method);
  const session = scope.session;
  if (!session || (needed !== undefined && !(needed in scope.capabilities))) {
    upstreamSession.respond(errorMessage(m.id, { code: -32601, message: `the agent does not support ${m.method}` }));
    return;
  }
  const id = session.newServerRequestId();
  // The agent reports progress under our token (the request id, unique in its session), which maps
  // back to this upstream and its token; progress under any other token reaches no upstream.
  const meta = isObject(m.params) && isObject(m.params._meta) ? m.params._meta : undefined;
  const token = meta?.progressToken;
  const tracked = typeof token === 'string' || typeof token === 'number';
  const waiting = session.trackServerRequest(id, {
    upstreamSession,
    upstreamRequestId: m.id,
    method: m.method,
    upstream: upstreamName,
    ...(tracked
      ? { progress: (u) => upstreamSession.notify('notifications/progress', { ...u, progressToken: token }) }
      : {}),
  });
  if (!waiting) {
    upstreamSession.respond(
      errorMessage(m.id, {
        code: TollgateCode.OverCapacity,
        message: `${session.serverRequestLimits.maxPerSession} requests already wait for this agent's answer`,
      }),
    );
    return;
  }
  send(tracked ? { ...m, id, params: { ...m.params, _meta: { ...meta, progressToken: id } } } : { ...m, id });
}

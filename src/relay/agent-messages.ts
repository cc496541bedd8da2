// What agents send that is not a call: notifications (cancellation, roots changes, the rest
// relayed), answers to the server-to-client requests we forwarded to them, and their log level.
// Each may concern another gateway instance serving the same session: then it goes over the bus.
import type { Logger } from 'pino';
import {
  errorMessage,
  isObject,
  resultMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../mcp/jsonrpc.js';
import { LOG_LEVELS } from '../mcp/agent-session.js';
import { GatewayError } from '../errors.js';
import { scopeFields, type AuditRecorder } from '../audit/step.js';
import type { RequestScope } from './scope.js';

/** Why an agent notification went nowhere (a metric label: a fixed set, never the method). */
export type DroppedNotification = 'not_forwarded' | 'unknown_request' | 'no_own_upstream';

/**
 * Agent notifications go only where the protocol sends them and only for the agent's own business:
 * `cancelled` to its own call in flight (here or, over the bus, on another instance), `progress` to
 * the upstream whose request to this agent it reports on, `roots/list_changed` to its own
 * per_session upstream sessions. Everything else is dropped (and counted): an agent must not be able
 * to send arbitrary messages to upstreams, least of all to ones its policy hides.
 */
export function relayAgentNotification(
  scope: RequestScope,
  n: JsonRpcNotification,
  dropped: (reason: DroppedNotification) => void,
): void {
  const session = scope.session;
  const p = isObject(n.params) ? n.params : {};
  switch (n.method) {
    case 'notifications/initialized':
      if (session) session.initialized = true;
      return;
    case 'notifications/cancelled': {
      const rid = p.requestId;
      if (!session || (typeof rid !== 'string' && typeof rid !== 'number')) return dropped('unknown_request');
      const running = session.inFlight.get(rid);
      if (running) running.cancel?.();
      else if (session.bus)
        session.bus.publish({ t: 'cancel', s: session.id, id: rid }); // the call may run on another instance
      else dropped('unknown_request');
      return;
    }
    case 'notifications/progress': {
      const token = p.progressToken;
      const pending =
        session && (typeof token === 'string' || typeof token === 'number')
          ? session.serverRequests.get(String(token))
          : undefined;
      if (!pending?.progress || typeof p.progress !== 'number') return dropped('unknown_request');
      pending.progress({
        progress: p.progress,
        ...(typeof p.total === 'number' ? { total: p.total } : {}),
        ...(typeof p.message === 'string' ? { message: p.message } : {}),
      });
      return;
    }
    case 'notifications/roots/list_changed': {
      // Roots are one client's: only upstream sessions that belong to this agent session hear of them.
      const own = session ? scope.view.upstreams.filter((u) => u.cfg.isolation === 'per_session') : [];
      if (!session || own.length === 0) return dropped('no_own_upstream');
      for (const u of own) void u.liveSessionFor(session.id, scope.agentId).then((s) => s?.notify(n.method));
      return;
    }
    default:
      dropped('not_forwarded');
  }
}

export async function relayAgentAnswer(
  scope: RequestScope,
  r: JsonRpcResponse,
  recorder: AuditRecorder,
  log: Logger,
): Promise<void> {
  const pending = scope.session?.serverRequests.get(String(r.id));
  if (!pending || !scope.session) {
    // Another instance of this gateway may have asked (its request ids carry its tag).
    if (scope.session && typeof r.id === 'string' && r.id.startsWith('tg-'))
      scope.session.bus?.publish({ t: 'response', s: scope.session.id, m: r });
    return;
  }
  scope.session.takeServerRequest(String(r.id));
  await recorder
    .record({
      ...scopeFields(scope),
      'mcp.method.name': pending.method,
      'jsonrpc.request.id': r.id,
      'tollgate.upstream.name': pending.upstream,
      'tollgate.outcome': 'error' in r ? 'jsonrpc_error' : 'ok',
      'rpc.response.status_code': 'error' in r ? String(r.error.code) : null,
    })
    .catch((err: unknown) => log.error({ err }, 'audit write failed'));
  pending.upstreamSession.respond(
    'error' in r
      ? errorMessage(pending.upstreamRequestId, r.error)
      : resultMessage(pending.upstreamRequestId, r.result),
  );
}

/**
 * `logging/setLevel`: the session's own filter, and each upstream session of its own (2025
 * upstreams). A shared upstream session is every agent's: one agent's level there would silence (or
 * flood) the others' logs, so it keeps the upstream's own and each agent session filters for itself.
 */
export async function setLogLevel(
  scope: RequestScope,
  req: JsonRpcRequest,
  params: Record<string, unknown>,
  stateTtlMs: number,
): Promise<JsonRpcResponse> {
  const level = LOG_LEVELS.indexOf(params.level as (typeof LOG_LEVELS)[number]);
  if (level < 0)
    throw new GatewayError(
      'invalid_params',
      `unknown log level: ${typeof params.level === 'string' ? params.level.slice(0, 64) : typeof params.level}`,
    );
  if (scope.session) {
    scope.session.logLevel = level;
    scope.session.shareState(stateTtlMs);
  }
  await Promise.all(
    scope.view.upstreams
      // 2026 upstreams take the level per request, in the envelope.
      .filter((u) => u.cfg.isolation !== 'shared' && u.init && 'logging' in u.init.capabilities && !u.modern)
      .map(async (u) => {
        const s = await u.liveSessionFor(scope.session?.id, scope.agentId);
        await s
          ?.request(
            'logging/setLevel',
            { level: params.level },
            { timeoutMs: u.cfg.timeouts.requestMs, maxTotalMs: u.cfg.timeouts.requestMs },
          )
          .catch(() => undefined);
      }),
  );
  return resultMessage(req.id, {});
}

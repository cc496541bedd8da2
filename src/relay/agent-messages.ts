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

export function relayAgentNotification(scope: RequestScope, n: JsonRpcNotification): void {
  const session = scope.session;
  if (n.method === 'notifications/cancelled') {
    const rid = isObject(n.params) ? n.params.requestId : undefined;
    if (!session || (typeof rid !== 'string' && typeof rid !== 'number')) return;
    const running = session.inFlight.get(rid);
    if (running) running.cancel?.();
    else session.bus?.publish({ t: 'cancel', s: session.id, id: rid }); // the call may run on another instance
    return;
  }
  if (n.method === 'notifications/initialized') {
    if (session) session.initialized = true;
    return;
  }
  for (const u of scope.view.upstreams) {
    if (u.cfg.isolation !== 'per_session' && n.method === 'notifications/roots/list_changed') continue;
    void u.liveSessionFor(session?.id, scope.agentId).then((s) => s?.notify(n.method, n.params));
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
  scope.session.serverRequests.delete(String(r.id));
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

/** `logging/setLevel`: the session's own filter, and each upstream session it uses (2025 upstreams). */
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
      .filter((u) => u.init && 'logging' in u.init.capabilities && !u.modern)
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

// What agents send that is not a request: notifications (cancellation, roots changes, the rest
// relayed) and answers to the server-to-client requests we forwarded to them. Either may concern
// a call another gateway instance runs: then it goes over the session bus.
import type { Logger } from 'pino';
import { errorMessage, isObject, resultMessage, type JsonRpcNotification, type JsonRpcResponse } from '../mcp/jsonrpc.js';
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

export async function relayAgentAnswer(scope: RequestScope, r: JsonRpcResponse, recorder: AuditRecorder, log: Logger): Promise<void> {
  const pending = scope.session?.serverRequests.get(String(r.id));
  if (!pending || !scope.session) {
    // Another instance of this gateway may have asked (its request ids carry its tag).
    if (scope.session && typeof r.id === 'string' && r.id.startsWith('tg-')) scope.session.bus?.publish({ t: 'response', s: scope.session.id, m: r });
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
  pending.upstreamSession.respond('error' in r ? errorMessage(pending.upstreamRequestId, r.error) : resultMessage(pending.upstreamRequestId, r.result));
}

// The audit as a pipeline step: the outermost MCP step, so it sees what every later step decided,
// and writes the record before the response it describes is released to the agent.
import { createAuditRecord, resultDigest, type AuditDecision, type AuditOutcome, type AuditRecord, type AuditRecordInput } from './record.js';
import type { AuditWriter } from './writer.js';
import type { JsonRpcResponse } from '../mcp/jsonrpc.js';
import type { McpCall, McpStep, RequestScope } from '../relay/scope.js';
import { GatewayError, TollgateCode } from '../errors.js';

export type AuditFields = Omit<AuditRecordInput, 'service.instance.id'>;

/** Writes records, and lets others (metrics, the admin live tail) see each one as it is written. */
export class AuditRecorder {
  private readonly listeners = new Set<(r: AuditRecord) => void>();
  /** Told how long each write took (seconds), e.g. for a histogram. */
  observeWrite: ((seconds: number) => void) | undefined;

  constructor(
    private readonly writer: AuditWriter | undefined,
    readonly instanceId: string,
  ) {}

  onRecord(l: (r: AuditRecord) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  async record(fields: AuditFields): Promise<void> {
    (fields as AuditRecordInput)['service.instance.id'] = this.instanceId;
    const rec = createAuditRecord(fields as AuditRecordInput);
    const started = performance.now();
    await this.writer?.append(rec);
    this.observeWrite?.((performance.now() - started) / 1000);
    for (const l of this.listeners) l(rec);
  }

  close(): Promise<void> {
    return this.writer?.close() ?? Promise.resolve();
  }
}

/** Who and where, common to every record of a request. */
export function scopeFields(scope: RequestScope): AuditFields {
  const s = scope.session;
  return {
    'gen_ai.agent.id': scope.agentId,
    'tollgate.auth.method': scope.identity.method,
    'mcp.session.id': s?.id ?? null,
    'tollgate.client.name': typeof s?.clientInfo.name === 'string' ? s.clientInfo.name : null,
    'tollgate.client.version': typeof s?.clientInfo.version === 'string' ? s.clientInfo.version : null,
    'tollgate.decision': 'allowed',
    'tollgate.outcome': 'ok',
    'tollgate.latency.total_ms': 0,
  };
}

function outcomeOf(res: JsonRpcResponse): { outcome: AuditOutcome; code: string | null } {
  if ('error' in res) return { outcome: res.error.code === TollgateCode.UpstreamTimeout ? 'timeout' : 'jsonrpc_error', code: String(res.error.code) };
  return { outcome: res.result.isError === true ? 'is_error' : 'ok', code: null };
}

function targetFields(call: McpCall): AuditFields | Record<string, never> {
  const t = call.target;
  if (!t) {
    // Not routed (e.g. an unknown tool): keep what the agent asked for.
    const p = call.request.params ?? {};
    if (call.request.method === 'tools/call' && typeof p.name === 'string') return { 'gen_ai.tool.name': p.name } as AuditFields;
    if (typeof p.uri === 'string') return { 'mcp.resource.uri': p.uri } as AuditFields;
    return {};
  }
  const name = t.kind === 'tool' ? 'gen_ai.tool.name' : t.kind === 'prompt' ? 'gen_ai.prompt.name' : 'mcp.resource.uri';
  return {
    'tollgate.upstream.name': t.server,
    [name]: t.canonical,
    'tollgate.target.native': t.native,
    'tollgate.request.arguments': (t.args ?? null) as AuditRecordInput['tollgate.request.arguments'],
  } as AuditFields;
}

export function auditStep(recorder: AuditRecorder): McpStep {
  return async (call, next) => {
    const started = performance.now();
    const res = await next();
    const { outcome, code } = outcomeOf(res);
    const decided = call.decision?.decision;
    // Failures before any step decided (unknown tool, upstream down) are the gateway's `error`.
    const decision: AuditDecision = decided ?? ('error' in res && call.upstreamMs === undefined ? 'error' : 'allowed');
    const digest = 'result' in res ? resultDigest(res.result) : undefined;
    try {
      await recorder.record({
        ...scopeFields(call.scope),
        ...targetFields(call),
        'mcp.method.name': call.request.method,
        'jsonrpc.request.id': call.request.id,
        'tollgate.decision': decision,
        'tollgate.decision_reason': call.decision?.reason ?? ('error' in res ? res.error.message : null),
        'tollgate.decision_rule': call.decision?.rule ?? null,
        'tollgate.outcome': outcome,
        'rpc.response.status_code': code,
        'tollgate.result.bytes': digest?.bytes ?? null,
        'tollgate.result.sha256': digest?.sha256 ?? null,
        'tollgate.tokens.charged': call.tokensCharged ?? 0,
        'tollgate.latency.total_ms': Math.round((performance.now() - started) * 1000) / 1000,
        'tollgate.latency.upstream_ms': call.upstreamMs === undefined ? null : Math.round(call.upstreamMs * 1000) / 1000,
      });
    } catch {
      // No record, no result: an answer the audit log cannot show is withheld.
      return new GatewayError('internal', 'audit log unavailable: the result is withheld').toJsonRpc(call.request.id);
    }
    return res;
  };
}

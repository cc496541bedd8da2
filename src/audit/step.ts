// The audit as a pipeline step: the outermost MCP step, so it sees what every later step decided,
// and writes the record before the response it describes is released to the agent.
import {
  createAuditRecord,
  newRecordId,
  resultDigest,
  type AuditDecision,
  type AuditOutcome,
  type AuditRecord,
  type AuditRecordInput,
} from './record.js';
import type { AuditWriter } from './writer.js';
import type { AuditFleet } from './pg/fleet.js';
import type { AuditExporter } from './export/queue.js';
import type { JsonRpcResponse } from '../mcp/jsonrpc.js';
import type { McpCall, McpStep, RequestScope } from '../relay/scope.js';
import { neverThrows } from '../never-throws.js';
import { GatewayError, TollgateCode } from '../errors.js';
import { quotedName } from '../mcp/quoted-name.js';
import { isoTimestamp } from './timestamp.js';

export type AuditFields = Omit<AuditRecordInput, 'service.instance.id'>;

/** Writes records, and lets others (metrics, the admin live tail) see each one as it is written. */
export class AuditRecorder {
  private readonly listeners = new Set<(r: AuditRecord) => void>();
  /** Told how long each write took (seconds), e.g. for a histogram. */
  observeWrite: ((seconds: number) => void) | undefined;

  /** The fleet store (audit.postgres): its live feed, reads, and whether tool calls must be refused. */
  readonly fleet: AuditFleet | undefined;

  constructor(
    private readonly writer: AuditWriter | undefined,
    readonly instanceId: string,
    private readonly extra?: { fleet: AuditFleet | undefined; close(): Promise<void> },
  ) {
    this.fleet = extra?.fleet;
  }

  onRecord(l: (r: AuditRecord) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  async record(fields: AuditFields): Promise<void> {
    (fields as AuditRecordInput)['service.instance.id'] = this.instanceId;
    return this.write(createAuditRecord(fields as AuditRecordInput));
  }

  /**
   * Writes a record that is already complete (the hot path builds it in one go). Not async: one
   * promise per record rather than an async function's and its await's (hot path).
   */
  write(rec: AuditRecord): Promise<void> {
    const started = performance.now();
    const written = (): void => {
      this.observeWrite?.((performance.now() - started) / 1000);
      for (const l of this.listeners) l(rec);
    };
    if (!this.writer) return Promise.resolve().then(written);
    return this.writer.append(rec).then(written);
  }

  async close(): Promise<void> {
    await this.writer?.close();
    await this.extra?.close();
  }

  /** The writer's export sinks (for their metrics). */
  get exporters(): readonly AuditExporter[] {
    return this.writer?.exporters ?? [];
  }
}

/** Who and where, common to every record of a request. */
export function scopeFields(scope: RequestScope): AuditFields {
  const s = scope.session;
  return {
    'gen_ai.agent.id': scope.agentId,
    'tollgate.auth.method': scope.identity.method,
    'tollgate.auth.user': scope.identity.user ?? null,
    'tollgate.auth.client': scope.identity.client ?? null,
    'mcp.session.id': s?.ref ?? null,
    'tollgate.client.name': typeof s?.clientInfo.name === 'string' ? s.clientInfo.name : null,
    'tollgate.client.version': typeof s?.clientInfo.version === 'string' ? s.clientInfo.version : null,
    'tollgate.decision': 'allowed',
    'tollgate.outcome': 'ok',
    'tollgate.latency.total_ms': 0,
  };
}

function outcomeOf(res: JsonRpcResponse): { outcome: AuditOutcome; code: string | null } {
  if ('error' in res)
    return {
      outcome: res.error.code === TollgateCode.UpstreamTimeout ? 'timeout' : 'jsonrpc_error',
      code: String(res.error.code),
    };
  // A 2026 round that asked the agent for input: the call goes on in the agent's retry (its own record).
  if (res.result.resultType === 'input_required') return { outcome: 'input_required', code: null };
  return { outcome: res.result.isError === true ? 'is_error' : 'ok', code: null };
}

export function auditStep(recorder: AuditRecorder): McpStep {
  // Not async: the answer's record is written in a continuation of the call, one promise for each
  // instead of an async function's, its awaits' and the recorder's (hot path).
  return neverThrows((call, next) => {
    const started = performance.now();
    const receivedAt = Date.now();
    // audit.postgres.mode fail_closed: no tool runs while its record cannot reach the fleet store.
    const refusal = call.request.method === 'tools/call' ? recorder.fleet?.refusal() : undefined;
    if (refusal)
      return recorded(
        recorder,
        call,
        new GatewayError('over_capacity', refusal).toJsonRpc(call.request.id),
        started,
        receivedAt,
      );
    return next().then((res) => recorded(recorder, call, res, started, receivedAt));
  });
}

/** Writes the record of a call's answer; the answer goes on only once it is written. */
function recorded(
  recorder: AuditRecorder,
  call: McpCall,
  res: JsonRpcResponse,
  started: number,
  receivedAt: number,
): Promise<JsonRpcResponse> {
  const { outcome, code } = outcomeOf(res);
  // Failures before any step decided (unknown tool, upstream down) are the gateway's `error`.
  const decision: AuditDecision =
    call.decision?.decision ?? ('error' in res && call.upstreamMs === undefined ? 'error' : 'allowed');
  const digest = 'result' in res ? resultDigest(res.result) : undefined;
  const s = call.scope.session;
  const t = call.target;
  const p = call.request.params;
  const kind = t?.kind;
  // Not routed (e.g. an unknown tool): keep the name or URI the agent asked for. Names and URIs are
  // quoted with a bound (quotedName): one not in the catalog is whatever the agent wrote.
  const askedTool =
    !t && call.request.method === 'tools/call' && typeof p?.name === 'string' ? quotedName(p.name) : null;
  const askedUri = !t && typeof p?.uri === 'string' ? quotedName(p.uri) : null;
  // One object literal in the record's key order: this runs on every call (measured).
  const rec: AuditRecord = {
    timestamp: isoTimestamp(receivedAt),
    'tollgate.record.id': newRecordId(receivedAt),
    'service.instance.id': recorder.instanceId,
    'gen_ai.operation.name': call.request.method === 'tools/call' ? 'execute_tool' : null,
    'mcp.method.name': call.request.method,
    'jsonrpc.request.id': call.request.id,
    'gen_ai.agent.id': call.scope.agentId,
    'tollgate.auth.method': call.scope.identity.method,
    'tollgate.auth.user': call.scope.identity.user ?? null,
    'tollgate.auth.client': call.scope.identity.client ?? null,
    'mcp.session.id': s?.ref ?? null,
    'tollgate.client.name': typeof s?.clientInfo.name === 'string' ? s.clientInfo.name : null,
    'tollgate.client.version': typeof s?.clientInfo.version === 'string' ? s.clientInfo.version : null,
    'tollgate.upstream.name': t?.server ?? null,
    'tollgate.upstream.replica': null,
    'gen_ai.tool.name': kind === 'tool' ? quotedName(t!.canonical) : askedTool,
    'gen_ai.prompt.name': kind === 'prompt' ? quotedName(t!.canonical) : null,
    'mcp.resource.uri': kind === 'resource' ? quotedName(t!.canonical) : askedUri,
    'tollgate.target.native': t ? quotedName(t.native) : null,
    'tollgate.request.arguments': (t?.args ?? null) as AuditRecord['tollgate.request.arguments'],
    'gen_ai.request.model': null,
    'tollgate.decision': decision,
    'tollgate.decision_reason': call.decision?.reason ?? ('error' in res ? res.error.message : null),
    'tollgate.decision_rule': call.decision?.rule ?? null,
    'tollgate.outcome': outcome,
    'rpc.response.status_code': code,
    'tollgate.result.bytes': digest?.bytes ?? null,
    'tollgate.result.sha256': digest?.sha256 ?? null,
    'tollgate.tokens.charged': call.tokensCharged ?? 0,
    'gen_ai.usage.input_tokens': null,
    'gen_ai.usage.output_tokens': null,
    'tollgate.cost.usd': null,
    'tollgate.latency.total_ms': Math.round((performance.now() - started) * 1000) / 1000,
    'tollgate.latency.upstream_ms': call.upstreamMs === undefined ? null : Math.round(call.upstreamMs * 1000) / 1000,
  };
  return recorder.write(rec).then(
    () => res,
    // No record, no result: an answer the audit log cannot show is withheld.
    () => new GatewayError('internal', 'audit log unavailable: the result is withheld').toJsonRpc(call.request.id),
  );
}

// One audit record per LLM call, in the same log and shape as MCP calls (gen_ai.* keys).
import { newRecordId, type AuditDecision, type AuditOutcome, type AuditRecord } from '../audit/record.js';
import type { AuditRecorder } from '../audit/step.js';
import type { AgentIdentity } from '../http/env.js';
import type { Usage } from './dialect.js';
import type { HttpTrace } from '../telemetry/http.js';
import { isoTimestamp } from '../audit/timestamp.js';

export interface LlmCallRecord {
  agent: AgentIdentity;
  op: 'chat' | 'embeddings';
  /** The model as the agent asked for it. */
  model: string | null;
  /** Epoch ms and performance.now() when the gateway received the call. */
  startedAt: number;
  started: number;
  upstream?: string | undefined;
  /** The model as the upstream knows it. */
  native?: string | undefined;
  decision: AuditDecision;
  reason?: string | null | undefined;
  rule?: string | null | undefined;
  outcome: AuditOutcome;
  /** HTTP status the agent got, when not 2xx. */
  status?: number | undefined;
  usage?: Usage | undefined;
  charged?: number | undefined;
  digest?: { bytes: number; sha256: string } | undefined;
  /** performance.now() when the chosen upstream try was sent. */
  sentAt?: number | undefined;
  /** Estimated cost from the configured prices. */
  costUsd?: number | undefined;
  /** Tracing (when on): the HTTP request's arrival, trace context and authentication times. */
  http?: HttpTrace | undefined;
}

/**
 * A call's record as it starts: every field from the start, in one shape. The success path completes
 * this object in place (spreading it with five more fields, and adding the cost after, was ~4 µs a
 * call, measured).
 */
export function newCallRecord(
  agent: AgentIdentity,
  op: LlmCallRecord['op'],
  http: HttpTrace | undefined,
): LlmCallRecord {
  return {
    agent,
    op,
    model: null,
    startedAt: Date.now(),
    started: performance.now(),
    upstream: undefined,
    native: undefined,
    decision: 'error',
    reason: undefined,
    rule: undefined,
    outcome: 'is_error',
    status: undefined,
    usage: undefined,
    charged: undefined,
    digest: undefined,
    sentAt: undefined,
    costUsd: undefined,
    http,
  };
}

const ms = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * The call's complete audit record, in one object literal in the log's key order (what
 * createAuditRecord would make of these fields, without its template copy and key loop: this runs
 * on every call, measured).
 */
export function llmAuditRecord(r: LlmCallRecord, instanceId: string, now = Date.now()): AuditRecord {
  const at = performance.now();
  return {
    timestamp: isoTimestamp(r.startedAt),
    'tollgate.record.id': newRecordId(now),
    'service.instance.id': instanceId,
    'gen_ai.operation.name': r.op,
    'mcp.method.name': null,
    'jsonrpc.request.id': null,
    'gen_ai.agent.id': r.agent.id,
    'tollgate.auth.method': r.agent.method,
    'tollgate.auth.user': r.agent.user ?? null,
    'tollgate.auth.client': r.agent.client ?? null,
    'mcp.session.id': null,
    'tollgate.client.name': null,
    'tollgate.client.version': null,
    'tollgate.upstream.name': r.upstream ?? null,
    'tollgate.upstream.replica': null,
    'gen_ai.tool.name': null,
    'gen_ai.prompt.name': null,
    'mcp.resource.uri': null,
    'tollgate.target.native': r.native ?? null,
    'tollgate.request.arguments': null,
    'gen_ai.request.model': r.model,
    'tollgate.decision': r.decision,
    'tollgate.decision_reason': r.reason ?? null,
    'tollgate.decision_rule': r.rule ?? null,
    'tollgate.outcome': r.outcome,
    'rpc.response.status_code': r.status !== undefined && (r.status < 200 || r.status >= 300) ? String(r.status) : null,
    'tollgate.result.bytes': r.digest?.bytes ?? null,
    'tollgate.result.sha256': r.digest?.sha256 ?? null,
    'tollgate.tokens.charged': r.charged ?? 0,
    'gen_ai.usage.input_tokens': r.usage?.input ?? null,
    'gen_ai.usage.output_tokens': r.usage?.output ?? null,
    'tollgate.cost.usd': r.costUsd ?? null,
    'tollgate.latency.total_ms': ms(at - r.started),
    'tollgate.latency.upstream_ms': r.sentAt === undefined ? null : ms(at - r.sentAt),
  };
}

/**
 * Writes the record; a failing audit sink is logged by the writer and must not fail a paid call.
 * Not async: one promise per record, not an async function's and its await's (hot path).
 */
export function recordCall(recorder: AuditRecorder, r: LlmCallRecord, onError: (err: unknown) => void): Promise<void> {
  try {
    return recorder.write(llmAuditRecord(r, recorder.instanceId)).then(undefined, onError);
  } catch (err) {
    onError(err);
    return Promise.resolve();
  }
}

/** USD for a call, from per-1M-token prices by upstream model name, else by the requested name. */
export function costUsd(
  prices: Readonly<Record<string, { input: number; output: number }>>,
  names: (string | undefined)[],
  usage: Usage | undefined,
): number | undefined {
  if (!usage) return undefined;
  for (const n of names) {
    const p = n === undefined ? undefined : prices[n];
    if (p) return (usage.input * p.input + usage.output * p.output) / 1_000_000;
  }
  return undefined;
}

// What the relay knows about the request it is handling, whatever the protocol era.
import type { AgentSession } from '../mcp/agent-session.js';
import type { JsonRpcMessage, JsonRpcRequest, JsonRpcResponse } from '../mcp/jsonrpc.js';
import type { View } from './view.js';
import type { AgentIdentity } from '../auth/identity.js';
import type { AccessKind, AgentAccess } from '../policy/access.js';
import type { AuditDecision } from '../audit/record.js';
import type { HttpTrace } from '../telemetry/http.js';
import type { TraceCarrier } from '../telemetry/context.js';
import type { UpstreamSession } from '../upstream/session.js';
import type { LimitStore } from '../limits/store.js';

export interface RequestScope {
  agentId: string;
  identity: AgentIdentity;
  /** The agent's access under the policy set in force when the request arrived. */
  access: AgentAccess;
  /** 2025-era session; undefined for stateless requests. */
  session: AgentSession | undefined;
  view: View;
  /** The agent's declared client capabilities (from initialize, or per request in 2026). */
  capabilities: Record<string, unknown>;
  /**
   * Stateless (2026) requests: the lowest log level to relay (index into LOG_LEVELS), or null for
   * none (no `logLevel` in the request's envelope). Sessions keep theirs on the session.
   */
  logLevel?: number | null;
  /** 2026 agents' `Mcp-Param-*` headers, passed to the upstream unchanged (the spec asks proxies to). */
  paramHeaders?: Readonly<Record<string, string>>;
  /** Request id and trace context to pass to HTTP upstreams (absent for gateway-made scopes). */
  trace?: { requestId: string; traceparent: string; http?: HttpTrace | undefined };
}

/** The agent side of one request: where related messages go. (Cancellation arrives as a
 * notification and reaches the request through the session's in-flight map.) */
export interface Exchange {
  emit(msg: JsonRpcMessage): void;
}

/** A message-level pipeline step (authorization, limits, audit plug in here). */
export type McpStep = (call: McpCall, next: () => Promise<JsonRpcResponse>) => Promise<JsonRpcResponse>;

export interface McpCall {
  scope: RequestScope;
  request: JsonRpcRequest;
  /** Set for routed methods once the target upstream is known. */
  target: CallTarget | undefined;
  /** What the policy steps decided, for the audit record. */
  decision?: { decision: Exclude<AuditDecision, 'error'>; rule: string; reason: string };
  /** Routed calls: where related messages go (an approval asks the agent through it). */
  exchange?: Exchange;
  /** Routed calls: the params the final handler sends upstream (a step may take its own fields out). */
  params?: Record<string, unknown> | undefined;
  /** Time spent waiting on the upstream, set by the final handler when it forwarded. */
  upstreamMs?: number;
  /** Tokens charged against the agent's budgets for this request. */
  tokensCharged?: number;
  /**
   * Set when the call was cancelled after it was sent: the upstream was asked to stop but may go on
   * running it (cancellation is advisory) for up to this many ms, its request timeout. The limits
   * step keeps the call's concurrency slot that long, so cancelling cannot start more calls at once.
   */
  lingerMs?: number;
  /** Tracing (src/telemetry): the upstream call's trace context, sent in headers and params._meta. */
  upstreamTrace?: TraceCarrier;
  /** The upstream session the call was last sent on (tracing names its replica). */
  upstreamSession?: UpstreamSession;
  /** The limits store for this call when tracing times its round trips (else the step's own). */
  limitsStore?: LimitStore;
}

export interface CallTarget {
  server: string;
  /** The name or URI as the upstream knows it. */
  native: string;
  /** What policies decide on, and the name they use (namespaced, whatever the endpoint). */
  kind: AccessKind;
  canonical: string;
  /** Arguments that argument constraints see (tools/call only). */
  args: unknown;
}

// Prometheus metrics. Request metrics are derived from audit records (one source of truth for what
// happened); gauges are read from live state at scrape time. Label values are bounded: agents past
// a cap become "other", and nothing per-session or per-argument is ever a label.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { FastCounter, FastHistogram } from './fast-metrics.js';
import type { AuditRecord } from '../audit/record.js';

export interface MetricsSources {
  upstreams(): { name: string; state: string; catalogTruncated?: readonly string[] }[];
  sessions(): number;
  sseStreams(): number;
  stdioProcesses(): number;
  limitsDegraded(): boolean;
}

const MAX_AGENTS = 500;
/** Models an upstream without a model list serves whatever an agent names: bounded like agents. */
const MAX_MODELS = 100;
const MAX_LABEL_CHARS = 128;
/**
 * The method label: MCP's request methods as spelled, the LLM operations, else `other`. An agent may
 * send any method name (refused, and audited as sent): each one a series held for the process's life
 * and printed on every scrape.
 */
const METHOD_LABELS = new Set(
  'initialize ping tools/list tools/call prompts/list prompts/get resources/list resources/templates/list resources/read resources/subscribe resources/unsubscribe completion/complete logging/setLevel server/discover subscriptions/listen sampling/createMessage elicitation/create roots/list tasks/get tasks/list tasks/result tasks/cancel chat embeddings unknown'.split(
    ' ',
  ),
);

/** The audit decision_rule of pin events (src/pins/guard.ts), recorded under `@` ids. */
const PIN_EVENTS = new Set(['tool.pin_mismatch', 'tool.unpinned', 'tool.pin_approved']);

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly agents = new Set<string>();
  private readonly models = new Set<string>();
  private readonly requests: FastCounter;
  private readonly rejections: Counter<'agent' | 'reason'>;
  private readonly tokens: Counter<'agent' | 'model' | 'direction'>;
  private readonly toolCall: FastHistogram;
  private readonly cost: Counter<'agent' | 'model'>;
  private readonly pinEvents: Counter<'server' | 'kind'>;
  /** Observed on every audited call. */
  readonly auditWrite: { observe(seconds: number): void };
  readonly limitsErrors: Counter<'op'>;
  readonly notificationsDropped: Counter<'reason'>;
  /** Log/progress notifications not sent to an agent whose SSE stream held too much. */
  readonly sseEventsDropped: Counter;
  /** SSE streams closed because their agent fell too far behind. */
  readonly sseStreamsOverflowed: Counter;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'tollgate_process_' });
    // The three metrics fed on every call are FastCounter/FastHistogram (same exposition, no
    // per-observation label hashing).
    this.requests = new FastCounter(
      'tollgate_mcp_requests_total',
      'MCP requests and LLM calls by agent, upstream, method and decision',
      ['agent', 'server', 'method', 'decision'],
      this.registry,
    );
    this.rejections = new Counter({
      name: 'tollgate_rejections_total',
      help: 'Requests refused by policy, rate limits or budgets',
      labelNames: ['agent', 'reason'],
      registers,
    });
    this.tokens = new Counter({
      name: 'tollgate_tokens_total',
      help: 'Tokens charged, by agent, model and direction',
      labelNames: ['agent', 'model', 'direction'],
      registers,
    });
    this.cost = new Counter({
      name: 'tollgate_llm_cost_usd_total',
      help: 'Estimated LLM spend in USD (configured prices), by agent and model',
      labelNames: ['agent', 'model'],
      registers,
    });
    this.pinEvents = new Counter({
      name: 'tollgate_pin_events_total',
      help: 'Tool-pinning events by upstream and kind (pin_mismatch, unpinned, pin_approved); not agent traffic',
      labelNames: ['server', 'kind'],
      registers,
    });
    this.toolCall = new FastHistogram(
      'tollgate_tool_call_duration_seconds',
      'tools/call latency: total, upstream, and overhead (what the gateway added)',
      ['server', 'part'],
      [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      this.registry,
    );
    this.auditWrite = new FastHistogram(
      'tollgate_audit_write_seconds',
      'Time to write one audit record (until it is acknowledged)',
      [],
      [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
      this.registry,
    ).child({});
    this.limitsErrors = new Counter({
      name: 'tollgate_limits_store_errors_total',
      help: 'Errors talking to the limits store (Redis)',
      labelNames: ['op'],
      registers,
    });
    this.notificationsDropped = new Counter({
      name: 'tollgate_agent_notifications_dropped_total',
      help: 'Agent notifications forwarded nowhere: not one the gateway relays, or not about the agent’s own request',
      labelNames: ['reason'],
      registers,
    });
    this.sseEventsDropped = new Counter({
      name: 'tollgate_sse_events_dropped_total',
      help: 'Log and progress notifications dropped because the agent’s SSE stream held server.sse_max_queued_bytes',
      registers,
    });
    this.sseStreamsOverflowed = new Counter({
      name: 'tollgate_sse_streams_overflowed_total',
      help: 'SSE streams closed because a message did not fit within server.sse_max_queued_bytes (agent too slow)',
      registers,
    });
    new Gauge({
      name: 'tollgate_upstream_up',
      help: '1 when the upstream is connected and ready',
      labelNames: ['server'],
      registers,
      collect() {
        this.reset();
        for (const u of sources.upstreams()) this.set({ server: u.name }, u.state === 'ready' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'tollgate_upstream_catalog_truncated',
      help: "1 for each list of an upstream's catalog cut at its max_catalog_entries or max_catalog_bytes (the rest not listed)",
      labelNames: ['server', 'list'],
      registers,
      collect() {
        this.reset();
        for (const u of sources.upstreams())
          for (const list of u.catalogTruncated ?? []) this.set({ server: u.name, list }, 1);
      },
    });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    gauge('tollgate_sessions_active', 'Agent sessions open (2025-era MCP)', sources.sessions);
    gauge('tollgate_sse_streams_active', 'SSE connections open to agents', sources.sseStreams);
    gauge('tollgate_stdio_processes', 'Upstream MCP server processes running', sources.stdioProcesses);
    gauge(
      'tollgate_limits_store_degraded',
      '1 while the limits store is unreachable and its failure mode applies',
      () => (sources.limitsDegraded() ? 1 : 0),
    );
  }

  private readonly toolCallChildren = new Map<
    string,
    Record<'total' | 'upstream' | 'overhead', { observe(v: number): void }>
  >();
  private histograms(server: string): Record<'total' | 'upstream' | 'overhead', { observe(v: number): void }> {
    let h = this.toolCallChildren.get(server);
    if (!h) {
      h = {
        total: this.toolCall.child({ server, part: 'total' }),
        upstream: this.toolCall.child({ server, part: 'upstream' }),
        overhead: this.toolCall.child({ server, part: 'overhead' }),
      };
      this.toolCallChildren.set(server, h);
    }
    return h;
  }

  private agent(id: string): string {
    return bounded(this.agents, id, MAX_AGENTS);
  }

  // Labelled children, cached: prom-client hashes the label object on every call otherwise.
  private readonly children = new Map<string, { inc(v?: number): void }>();
  private requestCounter(agent: string, server: string, method: string, decision: string): { inc(v?: number): void } {
    const key = `${agent}\u0000${server}\u0000${method}\u0000${decision}`;
    let child = this.children.get(key);
    if (!child) this.children.set(key, (child = this.requests.child({ agent, server, method, decision })));
    return child;
  }

  /** Feeds one audit record into the request metrics. */
  observe(r: AuditRecord): void {
    const server = r['tollgate.upstream.name'] ?? '';
    // Pin events are audited by the gateway itself (@gateway, @admin, @operator), not by an agent:
    // counted apart, so agent traffic and rejection rates stay about agents.
    const rule = r['tollgate.decision_rule'];
    if (rule !== null && PIN_EVENTS.has(rule) && r['gen_ai.agent.id']?.startsWith('@')) {
      this.pinEvents.inc({ server, kind: rule.slice('tool.'.length) });
      return;
    }
    // A call's approval being asked is a step of that call (its own record follows), not a request;
    // tollgate_approvals_total counts it.
    if (r['gen_ai.operation.name'] === 'request_approval') return;
    const agent = this.agent(r['gen_ai.agent.id']);
    const asked = r['mcp.method.name'] ?? r['gen_ai.operation.name'] ?? 'unknown';
    const method = METHOD_LABELS.has(asked) ? asked : 'other';
    this.requestCounter(agent, server, method, r['tollgate.decision']).inc();
    const d = r['tollgate.decision'];
    if (d !== 'allowed' && d !== 'error' && d !== 'approval_approved' && d !== 'approval_requested')
      this.rejections.inc({ agent, reason: d });
    const model = bounded(this.models, r['gen_ai.request.model'] ?? '', MAX_MODELS);
    if (r['gen_ai.usage.input_tokens'])
      this.tokens.inc({ agent, model, direction: 'input' }, r['gen_ai.usage.input_tokens']);
    if (r['gen_ai.usage.output_tokens'])
      this.tokens.inc({ agent, model, direction: 'output' }, r['gen_ai.usage.output_tokens']);
    if (r['tollgate.cost.usd']) this.cost.inc({ agent, model }, r['tollgate.cost.usd']);
    if (r['mcp.method.name'] === 'tools/call' && r['tollgate.tokens.charged'] > 0)
      this.tokens.inc({ agent, model, direction: 'tool_result' }, r['tollgate.tokens.charged']);
    if (r['mcp.method.name'] === 'tools/call' && r['tollgate.latency.upstream_ms'] !== null) {
      const total = r['tollgate.latency.total_ms'] / 1000;
      const upstream = r['tollgate.latency.upstream_ms'] / 1000;
      const h = this.histograms(server);
      h.total.observe(total);
      h.upstream.observe(upstream);
      h.overhead.observe(Math.max(0, total - upstream));
    }
  }
}

/** A label value among at most `max` distinct ones (and not too long), else `other`. */
function bounded(seen: Set<string>, value: string, max: number): string {
  if (seen.has(value)) return value;
  if (seen.size >= max || value.length > MAX_LABEL_CHARS) return 'other';
  seen.add(value);
  return value;
}

// MCP-level tracing, as steps around the pipeline's own (see app.ts): the outermost step opens the
// request's SERVER span, each named step gets a child span for its own work (policy, approvals,
// limits before the call; the audit write after it), and the innermost step is the upstream call's
// CLIENT span, whose context the relay passes upstream (call.upstreamTrace: headers and _meta).
// Child spans are made when their step has finished, from times taken as it ran; nothing is
// created for a request that is not sampled beyond the one non-recording span the SDK hands back.
import { type Attributes, type Context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { JsonRpcResponse } from '../mcp/jsonrpc.js';
import { isObject } from '../mcp/jsonrpc.js';
import type { McpCall, McpStep } from '../relay/scope.js';
import type { Upstream } from '../upstream/upstream.js';
import { carrierOf, hr, parentContext, remoteParent } from './context.js';
import type { Tracing } from './tracing.js';
import type { HttpTrace } from './http.js';
import type { LimitStore } from '../limits/store.js';
import { type StoreTime, timedStore } from './store-time.js';

/** The steps that get a span; consecutive steps with one name share it (policy = names + authorize + pins). */
export type StepSpan = 'audit' | 'credentials' | 'policy' | 'approvals' | 'limits';
/** A pipeline entry: a step with its span name, or a plain step (timed as part of nothing). */
export type TracedStep = McpStep | readonly [StepSpan, McpStep];

interface CallSpans {
  span: Span;
  ctx: Context;
  /** Resource URIs as the audit log writes them (`?token=…`, `user:pass@` redacted). */
  redactUri: (uri: string) => string;
}
const calls = new WeakMap<McpCall, CallSpans>();

/** The pipeline as it runs: with tracing off, exactly the steps given (no wrapper, no cost). */
export function traceSteps(
  tracing: Tracing | undefined,
  steps: readonly TracedStep[],
  deps: {
    upstreams: readonly Upstream[];
    limitsStore?: LimitStore;
    /** Spans leave the host: resource URIs get the audit log's redaction. */
    redactUri?: (uri: string) => string;
  },
): McpStep[] {
  const plain = (s: TracedStep): McpStep => (typeof s === 'function' ? s : s[1]);
  if (!tracing) return steps.map(plain);
  const out: McpStep[] = [requestSpan(tracing, deps.redactUri ?? ((u) => u))];
  for (let i = 0; i < steps.length; ) {
    const s = steps[i]!;
    if (typeof s === 'function') {
      out.push(s);
      i++;
      continue;
    }
    const group: McpStep[] = [];
    for (; i < steps.length; i++) {
      const n = steps[i]!;
      if (typeof n === 'function' || n[0] !== s[0]) break;
      group.push(n[1]);
    }
    out.push(timed(tracing, s[0], chain(group), deps.limitsStore));
  }
  out.push(upstreamSpan(tracing, new Map(deps.upstreams.map((u) => [u.name, u]))));
  return out;
}

function chain(steps: readonly McpStep[]): McpStep {
  if (steps.length === 1) return steps[0]!;
  return (call, next) => {
    const run = (i: number): Promise<JsonRpcResponse> =>
      i < steps.length ? steps[i]!(call, () => run(i + 1)) : next();
    return run(0);
  };
}

const short = (s: string, n = 120): string => (s.length > n ? s.slice(0, n) : s);

/** The MCP request's SERVER span: continues the agent's trace (params._meta first, then HTTP headers). */
function requestSpan(tracing: Tracing, redactUri: CallSpans['redactUri']): McpStep {
  const tracer = tracing.tracer;
  return (call, next) => {
    const http = call.scope.trace?.http;
    if (http) http.spanned = true;
    const meta = isObject(call.request.params?._meta) ? call.request.params._meta : undefined;
    const parent =
      remoteParent(meta?.traceparent, meta?.tracestate) ?? remoteParent(http?.traceparent, http?.tracestate);
    const span = tracer.startSpan(
      call.request.method,
      { kind: SpanKind.SERVER, startTime: hr(http?.at ?? performance.now()) },
      parentContext(parent),
    );
    if (!span.isRecording()) {
      // Not sampled: nothing to record, no child spans, no wrapper work (calls has no entry); the
      // upstream still continues the trace, unsampled.
      call.upstreamTrace = carrierOf(span.spanContext());
      return next();
    }
    return recorded(tracer, call, next, span, http, redactUri);
  };
}

async function recorded(
  tracer: Tracing['tracer'],
  call: McpCall,
  next: () => Promise<JsonRpcResponse>,
  span: Span,
  http: HttpTrace | undefined,
  redactUri: CallSpans['redactUri'],
): Promise<JsonRpcResponse> {
  const t = call.target;
  const method = short(call.request.method, 100);
  span.updateName(t && t.kind !== 'resource' ? `${method} ${short(t.canonical)}` : method);
  const ctx = trace.setSpan(parentContext(undefined), span);
  calls.set(call, { span, ctx, redactUri });
  if (http?.authFrom !== undefined && http.authTo !== undefined) {
    tracer
      .startSpan(
        'authenticate',
        { startTime: hr(http.authFrom), attributes: { 'tollgate.auth.method': call.scope.identity.method } },
        ctx,
      )
      .end(hr(http.authTo));
  }
  const res = await next();
  span.setAttributes(requestAttributes(call, res, redactUri));
  if ('error' in res) span.setStatus({ code: SpanStatusCode.ERROR, message: short(res.error.message, 200) });
  span.end(hr(performance.now()));
  return res;
}

function requestAttributes(call: McpCall, res: JsonRpcResponse, redactUri: CallSpans['redactUri']): Attributes {
  const t = call.target;
  const s = call.scope.session;
  const a: Attributes = {
    'mcp.method.name': short(call.request.method, 100),
    'jsonrpc.request.id': short(String(call.request.id), 100),
    'gen_ai.agent.id': call.scope.agentId,
    'tollgate.auth.method': call.scope.identity.method,
    // The same decision the audit record carries (see audit/step.ts).
    'tollgate.decision':
      call.decision?.decision ?? ('error' in res && call.upstreamMs === undefined ? 'error' : 'allowed'),
  };
  if (s) a['mcp.session.id'] = s.ref;
  if (call.scope.trace) a['tollgate.request.id'] = call.scope.trace.requestId;
  if (call.request.method === 'tools/call') a['gen_ai.operation.name'] = 'execute_tool';
  if (t) {
    a['tollgate.upstream.name'] = t.server;
    if (t.kind === 'tool') a['gen_ai.tool.name'] = t.canonical;
    else if (t.kind === 'prompt') a['gen_ai.prompt.name'] = t.canonical;
    else if (t.kind === 'resource') a['mcp.resource.uri'] = redactUri(t.canonical);
  }
  if (call.decision) a['tollgate.decision_rule'] = call.decision.rule;
  if ('error' in res) {
    a['rpc.response.status_code'] = String(res.error.code);
    a['error.type'] = String(res.error.code);
  } else if (res.result.isError === true) a['error.type'] = 'tool_error';
  if (call.tokensCharged) a['tollgate.tokens.charged'] = call.tokensCharged;
  return a;
}

/** A step's own work as a child span: before it passes the call on, and (audit, limits) after. */
function timed(tracing: Tracing, name: StepSpan, step: McpStep, limitsStore: LimitStore | undefined): McpStep {
  const tracer = tracing.tracer;
  const after = name === 'audit' ? 'audit write' : name === 'limits' ? 'limits settle' : undefined;
  const store = name === 'limits' ? limitsStore : undefined;
  return (call, next) => {
    const c = calls.get(call);
    if (!c) return step(call, next);
    let time: StoreTime | undefined;
    if (store) {
      time = { ms: 0, ops: 0 };
      call.limitsStore = timedStore(store, time);
    }
    return timedRun(tracer, name, after, step, c, call, next, time);
  };
}

const storeAttrs = (t: StoreTime): Attributes => ({
  'tollgate.limits.store_ms': Math.round(t.ms * 1000) / 1000,
  'tollgate.limits.store_ops': t.ops,
});

async function timedRun(
  tracer: Tracing['tracer'],
  name: StepSpan,
  after: string | undefined,
  step: McpStep,
  c: CallSpans,
  call: McpCall,
  next: () => Promise<JsonRpcResponse>,
  time: StoreTime | undefined,
): Promise<JsonRpcResponse> {
  const from = performance.now();
  let before: StoreTime | undefined;
  let passed: number | undefined;
  let back: number | undefined;
  const res = await step(call, async () => {
    passed = performance.now();
    if (time) before = { ...time };
    try {
      return await next();
    } finally {
      back = performance.now();
    }
  });
  const end = performance.now();
  if (name !== 'audit') {
    const span = tracer.startSpan(name, { startTime: hr(from) }, c.ctx);
    if (passed === undefined && call.decision) {
      // This step decided: the call goes no further.
      span.setAttributes({
        'tollgate.decision': call.decision.decision,
        'tollgate.decision_rule': call.decision.rule,
      });
      span.setStatus({ code: SpanStatusCode.ERROR, message: short(call.decision.reason, 200) });
    }
    if (time) span.setAttributes(storeAttrs(before ?? time));
    span.end(hr(passed ?? end));
  }
  if (after && back !== undefined) {
    const settle = tracer.startSpan(after, { startTime: hr(back) }, c.ctx);
    if (time && before) settle.setAttributes(storeAttrs({ ms: time.ms - before.ms, ops: time.ops - before.ops }));
    settle.end(hr(end));
  }
  return res;
}

/** The upstream call: a CLIENT span around the relay's final handler, for routed calls only. */
function upstreamSpan(tracing: Tracing, upstreams: ReadonlyMap<string, Upstream>): McpStep {
  const tracer = tracing.tracer;
  return (call, next) => {
    const c = calls.get(call);
    return c && call.target ? clientSpan(tracer, upstreams, c, call, next) : next();
  };
}

async function clientSpan(
  tracer: Tracing['tracer'],
  upstreams: ReadonlyMap<string, Upstream>,
  c: CallSpans,
  call: McpCall,
  next: () => Promise<JsonRpcResponse>,
): Promise<JsonRpcResponse> {
  const t = call.target!;
  const u = upstreams.get(t.server);
  const native = t.kind === 'resource' ? c.redactUri(t.native) : t.native;
  const span = tracer.startSpan(
    `${short(call.request.method, 100)} ${short(native)}`,
    { kind: SpanKind.CLIENT, startTime: hr(performance.now()) },
    c.ctx,
  );
  call.upstreamTrace = carrierOf(span.spanContext());
  const res = await next();
  if (span.isRecording()) {
    const replica = u && call.upstreamSession ? u.replicaOf(call.upstreamSession) : undefined;
    const a: Attributes = {
      'mcp.method.name': short(call.request.method, 100),
      'tollgate.upstream.name': t.server,
      'tollgate.upstream.transport': u?.cfg.transport ?? 'unknown',
      'tollgate.target.native': short(native, 200),
    };
    const url = replica?.url ? safeUrl(replica.url) : undefined;
    if (url) {
      a['server.address'] = url.hostname;
      a['server.port'] = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
      a['tollgate.upstream.replica'] = replica!.index;
    } else if (u?.cfg.transport === 'stdio') a['network.transport'] = 'pipe';
    if ('error' in res) {
      a['rpc.response.status_code'] = String(res.error.code);
      a['error.type'] = String(res.error.code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: short(res.error.message, 200) });
    }
    span.setAttributes(a);
  }
  span.end(hr(performance.now()));
  return res;
}

function safeUrl(u: string): URL | undefined {
  try {
    return new URL(u);
  } catch {
    return undefined;
  }
}

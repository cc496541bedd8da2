// HTTP-level tracing: when the request arrived, the agent's trace context headers, and how long
// authentication took. Recorded here (plain numbers, no span yet); the MCP request span made later
// starts at the arrival and carries authentication as its first child. A request refused before any
// MCP request was read (401, 403, 413…) gets a span of its own here: in the agent's trace once it
// authenticated, else a trace of its own sampled by ratio.
import type { Span, Tracer } from '@opentelemetry/api';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../http/env.js';
import { headerOf } from '../http/node-io.js';
import { hr, parentContext, remoteParent } from './context.js';
import type { Tracing } from './tracing.js';

export interface HttpTrace {
  /** performance.now() at arrival. */
  at: number;
  traceparent: string | undefined;
  tracestate: string | undefined;
  authFrom?: number;
  authTo?: number;
  /** Set once an MCP request span stands for this HTTP request. */
  spanned?: boolean;
}

/** Reads what the agent's request says of its trace; emits a span for requests refused at the HTTP level. */
export function traceHttp(tracing: Tracing): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const t: HttpTrace = {
      at: performance.now(),
      traceparent: headerOf(c, 'traceparent'),
      tracestate: headerOf(c, 'tracestate'),
    };
    c.set('telemetry', t);
    await next();
    const status = c.res.status;
    // The route pattern (`/mcp/:server`), not the path: span names stay few and free of agent text.
    if (!t.spanned && status >= 400) refusedSpan(tracing.tracer, t, c.req.method.slice(0, 16), c.req.routePath, status);
  };
}

function refusedSpan(tracer: Tracer, t: HttpTrace, method: string, route: string, status: number): void {
  const span: Span = tracer.startSpan(
    `${method} ${route}`,
    {
      kind: SpanKind.SERVER,
      startTime: hr(t.at),
      attributes: { 'http.request.method': method, 'http.route': route, 'http.response.status_code': status },
    },
    // Only an agent that authenticated joins its own trace (and, with parent_based, has its sampled
    // flag honoured): anyone else who reaches the gateway would otherwise choose which of their
    // refused requests are recorded, and fill the span queue with them. Theirs are sampled by ratio.
    parentContext(t.authTo !== undefined ? remoteParent(t.traceparent, t.tracestate) : undefined),
  );
  if (span.isRecording() && t.authFrom !== undefined) {
    const auth = tracer.startSpan(
      'authenticate',
      { startTime: hr(t.authFrom) },
      trace.setSpan(parentContext(undefined), span),
    );
    if (t.authTo === undefined) auth.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${status}` });
    auth.end(hr(t.authTo ?? performance.now()));
  }
  span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${status}` });
  span.end(hr(performance.now()));
}

/** Wraps the authentication middleware to time it (the time until it lets the request through). */
export function traceAuth(
  tracing: Tracing | undefined,
  authenticate: MiddlewareHandler<AppEnv>,
): MiddlewareHandler<AppEnv> {
  if (!tracing) return authenticate;
  return (c, next) => {
    const t = c.get('telemetry');
    if (t) t.authFrom = performance.now();
    return authenticate(c, () => {
      if (t) t.authTo = performance.now();
      return next();
    });
  };
}

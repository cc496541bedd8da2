// The upstream hop's trace context, added to what the relay sends: HTTP headers (Streamable HTTP,
// legacy SSE) and params._meta (every transport and era: stdio upstreams have nothing else, and
// SEP-414 puts it there). Without tracing (call.upstreamTrace unset) both are returned unchanged.
import { isObject } from '../mcp/jsonrpc.js';
import type { McpCall } from '../relay/scope.js';

export function tracedHeaders(
  headers: Readonly<Record<string, string>> | undefined,
  call: McpCall,
): Readonly<Record<string, string>> | undefined {
  const t = call.upstreamTrace;
  if (!t) return headers;
  const out: Record<string, string> = { ...headers, traceparent: t.traceparent };
  if (t.tracestate) out.tracestate = t.tracestate;
  else delete out.tracestate;
  return out;
}

export function tracedParams(
  params: Record<string, unknown> | undefined,
  call: McpCall,
): Record<string, unknown> | undefined {
  const t = call.upstreamTrace;
  if (!t) return params;
  // The agent's own trace keys are replaced: the upstream's parent is our CLIENT span.
  const { traceparent: _p, tracestate: _s, ...meta } = isObject(params?._meta) ? params._meta : {};
  return { ...params, _meta: { ...meta, ...t } };
}

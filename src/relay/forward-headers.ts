// The HTTP headers a call carries to its upstream besides the session's own: the request id and
// trace context, the agent's id when `auth.forward_identity_header` names a header, and a 2026
// request's parameter headers (Mcp-Method, Mcp-Name, …). undefined when there are none.
import type { RequestScope } from './scope.js';

export function forwardHeaders(
  scope: RequestScope,
  identityHeader: string | undefined,
): Record<string, string> | undefined {
  let headers: Record<string, string> | undefined;
  if (scope.trace) headers = { 'x-request-id': scope.trace.requestId, traceparent: scope.trace.traceparent };
  if (identityHeader) headers = { ...headers, [identityHeader.toLowerCase()]: scope.agentId };
  if (scope.paramHeaders) headers = { ...scope.paramHeaders, ...headers };
  return headers;
}

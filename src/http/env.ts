// Hono context variables set by the HTTP-level steps and read by the MCP transports.
import type { AgentIdentity } from '../auth/identity.js';
import type { HttpTrace } from '../telemetry/http.js';

export type { AgentIdentity };

export interface AppEnv {
  Variables: {
    agent: AgentIdentity;
    /** From X-Request-Id, or made up; echoed back and sent to HTTP upstreams. */
    requestId: string;
    /** W3C traceparent for the upstream hop (a child of the agent's, when it sent one). */
    traceparent: string;
    /** Set only when tracing is on (src/telemetry/http.ts). */
    telemetry?: HttpTrace;
  };
}

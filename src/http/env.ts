// Hono context variables set by the HTTP-level steps and read by the MCP transports.
import type { AgentIdentity } from '../auth/identity.js';

export type { AgentIdentity };

export interface AppEnv {
  Variables: {
    agent: AgentIdentity;
  };
}

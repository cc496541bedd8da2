// Hono context variables set by the HTTP-level steps and read by the MCP transports.
export interface AgentIdentity {
  id: string;
  /** How the agent proved who it is (recorded in the audit log). */
  method: 'api_key' | 'anonymous';
}

export interface AppEnv {
  Variables: {
    agent: AgentIdentity;
  };
}

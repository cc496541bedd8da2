// Credentials per user on an upstream's channels (upstreams.<name>.auth, see src/credentials/): the
// headers (HTTP) or environment (stdio) one agent's channel carries, asked for on every request so
// a refreshed token applies at once, and what to do when the upstream answers 401.
import type { GatewayError } from '../errors.js';

export interface ChannelAuth {
  /** Headers for the next request; rejects with a GatewayError (e.g. authorization_required). */
  headers(): Promise<Record<string, string>>;
  /**
   * The upstream answered 401 to a request that carried `sent`: resolves when fresh headers are
   * available (refreshed, or another instance did), rejects with the GatewayError to answer.
   */
  rejected(sent: Record<string, string>): Promise<void>;
}

export interface UpstreamCredentials {
  /** The channel auth of one agent's own session; `undefined` agent: the shared (catalog) session. */
  channelAuth(agentId: string | undefined): ChannelAuth | undefined;
  /** Extra environment of one agent's stdio process (per_agent secrets). */
  env(agentId: string | undefined): Record<string, string> | undefined;
  /** A user just connected: the catalog session may now be able to connect. */
  onConnected?(listener: () => void): void;
  /**
   * The shared (catalog) session carries one user's own credential (no operator credential): what
   * it lists of that user's account (resources) must not be shown to everyone.
   */
  readonly catalogAsUser?: boolean;
}

export type { GatewayError };

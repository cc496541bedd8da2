// The plain types an upstream's users name (its state, where a server message came from, an agent session's placement); separate so upstream.ts keeps to the upstream itself.
import type { UpstreamSession } from './session.js';

export type UpstreamState = 'connecting' | 'ready' | 'down' | 'disabled';

export interface ServerMessageOrigin {
  session: UpstreamSession;
  /** Set when the upstream session belongs to one agent session (isolation: per_session). */
  agentSessionId: string | undefined;
  /** Set when the upstream session belongs to one agent (isolation: per_agent or per_session). */
  agentId: string | undefined;
}

/**
 * Where an agent session's calls to this upstream go, sealed into its session id when several
 * gateway instances serve it: the replica index, and the upstream session id (per_session HTTP).
 */
export type Placement = readonly [number] | readonly [number, string];

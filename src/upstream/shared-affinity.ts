// isolation shared: which replica's shared session each agent session is pinned to; separate so upstream.ts keeps to the upstream itself.
import type { GatewayError } from '../errors.js';
import type { Replica } from './replica.js';
import type { UpstreamSession } from './session.js';
import type { Placement } from './upstream-types.js';

export interface SharedAffinityDeps {
  replicas: () => readonly Replica[];
  pick: (key: string) => Replica | undefined;
  /** The error when no replica has a shared session. */
  unavailable: () => GatewayError;
  reattached: (agentSessionId: string, session: UpstreamSession) => Promise<void>;
}

export class SharedAffinity {
  private readonly affinity = new Map<string, Replica>();

  constructor(private readonly deps: SharedAffinityDeps) {}

  /** The replica an agent session is pinned to, if any. */
  pinned(agentSessionId: string): Replica | undefined {
    return this.affinity.get(agentSessionId);
  }

  /** The gateway's session with the replica the agent session is pinned to (re-pinned when that replica stops being usable). */
  /** The pinned replica's session as it is (the common case); a promise only when one is picked. */
  sessionFor(
    agentSessionId: string | undefined,
    agentId: string,
    placement: Placement | undefined,
  ): UpstreamSession | Promise<UpstreamSession> {
    const pinned = agentSessionId === undefined ? undefined : this.affinity.get(agentSessionId);
    if (pinned?.usable && pinned.shared) return pinned.shared;
    return this.pin(agentSessionId, agentId, placement, pinned);
  }

  private async pin(
    agentSessionId: string | undefined,
    agentId: string,
    placement: Placement | undefined,
    pinned: Replica | undefined,
  ): Promise<UpstreamSession> {
    // First sight of the session on this instance: the replica its seal names, if still usable.
    const placed = !pinned && placement ? this.deps.replicas()[placement[0]] : undefined;
    const next = placed?.usable ? placed : this.deps.pick(agentId);
    if (!next?.shared) {
      throw this.deps.unavailable();
    }
    if (agentSessionId !== undefined && next !== pinned) {
      if (pinned) pinned.assigned--;
      next.assigned++;
      this.affinity.set(agentSessionId, next);
      if (pinned) await this.deps.reattached(agentSessionId, next.shared);
    }
    return next.shared;
  }

  /** The agent session ended here: unpin it. */
  unpin(agentSessionId: string): void {
    const pinned = this.affinity.get(agentSessionId);
    if (pinned) {
      pinned.assigned--;
      this.affinity.delete(agentSessionId);
    }
  }
}

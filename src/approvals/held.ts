// The calls this instance holds until a person answers: those waiting for operators and those
// waiting for a 2025 agent's own user (an elicitation on its session). Both hold the agent's request,
// its arguments and a timer for up to the rule's timeout, so both count against `max_pending` and
// `max_pending_per_agent`, and both end at once (void) when the instance stops.

export interface HeldSlot {
  /** How the held call ends when the instance stops; called at once when it is already stopping. */
  onVoid(end: (reason: string) => Promise<void> | void): void;
  /** The call no longer waits (decided, refused, timed out): its place is free. */
  release(): void;
}

interface Entry {
  agent: string;
  end: ((reason: string) => Promise<void> | void) | undefined;
}

export const SHUTDOWN_REASON = 'the gateway instance holding the call shut down';

export class HeldCalls {
  private readonly entries = new Set<Entry>();
  private readonly perAgent = new Map<string, number>();
  private closing = false;

  constructor(
    private readonly max: number,
    private readonly maxPerAgent: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * A place for one more held call of this agent, taken now (before anything waits, so a burst
   * cannot all pass the cap), or why there is none.
   */
  take(agent: string): HeldSlot | string {
    if (this.closing) return 'the gateway is shutting down';
    const mine = this.perAgent.get(agent) ?? 0;
    if (mine >= this.maxPerAgent) return `too many calls are waiting for approval (agent ${agent})`;
    if (this.entries.size >= this.max) return 'too many calls are waiting for approval (this gateway)';
    const e: Entry = { agent, end: undefined };
    this.entries.add(e);
    this.perAgent.set(agent, mine + 1);
    return {
      onVoid: (end) => {
        if (!this.entries.has(e)) return;
        e.end = end;
        if (this.closing) void end(SHUTDOWN_REASON);
      },
      release: () => {
        if (!this.entries.delete(e)) return;
        const n = (this.perAgent.get(agent) ?? 1) - 1;
        if (n > 0) this.perAgent.set(agent, n);
        else this.perAgent.delete(agent);
      },
    };
  }

  /** Shutdown: no new places; every held call is ended as void (resolves once they have been). */
  async voidAll(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.entries].map((e) => e.end?.(SHUTDOWN_REASON)));
  }
}

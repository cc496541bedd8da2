// Agent sessions of this gateway instance, with idle expiry. (Issue 7 adds sealed, instance-free ids.)
import { AgentSession } from './agent-session.js';

export class SessionStore {
  private readonly sessions = new Map<string, AgentSession>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly idleMs: number,
    private readonly onEnd: (s: AgentSession) => void,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(idleMs, 60_000));
    this.sweeper.unref();
  }

  add(s: AgentSession): void {
    this.sessions.set(s.id, s);
  }

  get(id: string): AgentSession | undefined {
    const s = this.sessions.get(id);
    if (s) s.lastSeen = Date.now();
    return s;
  }

  get size(): number {
    return this.sessions.size;
  }

  all(): IterableIterator<AgentSession> {
    return this.sessions.values();
  }

  end(id: string): boolean {
    const s = this.sessions.get(id);
    if (!s) return false;
    this.sessions.delete(id);
    s.close();
    this.onEnd(s);
    return true;
  }

  private sweep(): void {
    const cutoff = Date.now() - this.idleMs;
    for (const s of this.sessions.values()) {
      if (s.lastSeen < cutoff && !s.hasStandaloneListener && s.inFlight.size === 0) this.end(s.id);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const id of [...this.sessions.keys()]) this.end(id);
  }
}

// Upstream sessions owned by one agent or one agent session (isolation per_agent / per_session):
// opened on first use on a replica, capped, closed when idle, reopened elsewhere when their replica
// goes bad, and not respawned in a tight loop when opening keeps failing.
import { GatewayError } from '../errors.js';
import type { Replica } from './replica.js';
import type { UpstreamSession } from './session.js';

interface Entry {
  replica: Replica;
  session: Promise<UpstreamSession>;
  lastUsed: number;
}

export interface Acquired {
  session: UpstreamSession;
  /** The session is new for a key that had one before: its state must be restored. */
  reopened: boolean;
}

export class SessionPool {
  private readonly entries = new Map<string, Entry>();
  /** Keys that had a session (until released): a new one for them must get their state back. */
  private readonly known = new Set<string>();
  private readonly reaper: NodeJS.Timeout;
  /** Failed opens in a row and when the next may be tried: the upstream's, or each key's (perUser). */
  private readonly backoff = { openFailures: 0, retryAt: 0 };
  private readonly keyBackoff = new Map<string, { openFailures: number; retryAt: number }>();

  constructor(
    private readonly label: string,
    private readonly cap: number,
    private readonly idleMs: number,
    /** Other gateway instances may use the same upstream sessions: idle ones are let go, not ended. */
    private readonly shared = false,
    /**
     * Per-user credentials: a session that fails to open may fail for its user alone (a token or an
     * account the upstream refuses), so the back-off is that key's, not everybody's.
     */
    private readonly perUser = false,
  ) {
    this.reaper = setInterval(() => this.reap(), Math.max(Math.min(idleMs / 2, 30_000), 250));
    this.reaper.unref();
  }

  get size(): number {
    return this.entries.size;
  }

  async acquire(
    key: string,
    pick: () => Replica | undefined,
    open: (r: Replica) => Promise<UpstreamSession>,
  ): Promise<Acquired> {
    const had = this.entries.get(key);
    if (had) {
      had.lastUsed = Date.now();
      const s = await had.session;
      had.lastUsed = Date.now();
      // Kept while its replica is usable, or is still the best there is (no healthy replica at all).
      if (s.isAlive && (had.replica.usable || pick() === had.replica)) return { session: s, reopened: false };
      if (this.entries.get(key) === had) this.drop(key, had);
    }
    if (this.entries.size >= this.cap)
      throw new GatewayError(
        'upstream_unavailable',
        `upstream ${this.label} has reached its session cap (${this.cap})`,
      );
    const backoff = this.backoffOf(key);
    const wait = backoff.retryAt - Date.now();
    if (wait > 0)
      throw new GatewayError(
        'upstream_unavailable',
        `upstream ${this.label} failed to start; retrying in ${Math.ceil(wait / 1000)} s`,
      );
    const replica = pick();
    if (!replica) throw new GatewayError('upstream_unavailable', `upstream ${this.label} has no healthy replica`);
    const entry: Entry = { replica, session: open(replica), lastUsed: Date.now() };
    this.entries.set(key, entry);
    replica.assigned++;
    try {
      const session = await entry.session;
      entry.lastUsed = Date.now(); // a slow start must not look idle
      backoff.openFailures = 0;
      if (this.perUser) this.keyBackoff.delete(key);
      const reopened = this.known.has(key);
      this.known.add(key);
      return { session, reopened };
    } catch (err) {
      if (this.entries.get(key) === entry) this.drop(key, entry);
      // One user's missing credentials are theirs alone: no back-off for everybody else.
      if (err instanceof GatewayError && (err.kind === 'authorization_required' || err.kind === 'forbidden')) throw err;
      // Back off a crashing command: 0.5 s, 1 s, 2 s… up to 30 s between attempts.
      backoff.retryAt = Date.now() + Math.min(500 * 2 ** backoff.openFailures++, 30_000);
      throw err;
    }
  }

  private backoffOf(key: string): { openFailures: number; retryAt: number } {
    if (!this.perUser) return this.backoff;
    let b = this.keyBackoff.get(key);
    if (!b) {
      b = { openFailures: 0, retryAt: 0 };
      this.keyBackoff.set(key, b);
      // Bounded: the oldest key's back-off is forgotten first.
      if (this.keyBackoff.size > 10_000) this.keyBackoff.delete(this.keyBackoff.keys().next().value as string);
    }
    return b;
  }

  /** A session opened ahead of its first use (at initialize, to seal its id into the agent's). */
  put(key: string, replica: Replica, session: UpstreamSession): void {
    if (this.entries.has(key)) return void session.close();
    this.entries.set(key, { replica, session: Promise.resolve(session), lastUsed: Date.now() });
    this.known.add(key);
    replica.assigned++;
  }

  /** The key's session if it is open (for notifications that must not open one). */
  async live(key: string): Promise<UpstreamSession | undefined> {
    const e = this.entries.get(key);
    if (!e) return undefined;
    const s = await e.session.catch(() => undefined);
    return s?.isAlive ? s : undefined;
  }

  /** Forget a session the upstream closed (it is reopened on next use). */
  forget(key: string, session: UpstreamSession): void {
    const e = this.entries.get(key);
    if (e)
      void e.session.then(
        (s) => s === session && this.entries.get(key) === e && this.drop(key, e),
        () => undefined,
      );
  }

  /** `everywhere`: the agent ended its session (DELETE), so the upstream's session ends too. */
  release(key: string, everywhere = true): void {
    this.known.delete(key);
    const e = this.entries.get(key);
    if (e) this.drop(key, e, everywhere || !this.shared);
  }

  private drop(key: string, e: Entry, endSession = !this.shared): void {
    this.entries.delete(key);
    e.replica.assigned--;
    e.session
      .then(
        (s) => s.close(endSession),
        () => undefined,
      )
      .catch(() => undefined);
  }

  private reap(): void {
    const cutoff = Date.now() - this.idleMs;
    for (const [key, e] of this.entries) {
      if (e.lastUsed >= cutoff) continue;
      void e.session.then(
        (s) => {
          if (s.inFlight === 0 && this.entries.get(key) === e && e.lastUsed < cutoff) this.drop(key, e);
        },
        () => undefined,
      );
    }
  }

  async close(): Promise<void> {
    clearInterval(this.reaper);
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(
      all.map((e) =>
        e.session.then(
          (s) => s.close(),
          () => undefined,
        ),
      ),
    );
  }
}

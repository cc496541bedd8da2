// In-memory LimitStore for a single gateway instance (and RedisStore's `local` fallback).
// Idle state cannot pile up: a bucket whose TAT has passed is identical to a missing one, and a
// lease past its TTL is dead, so both are dropped on access and by a periodic sweep.
import { evaluate, charged, refunded, type Tat } from './gcra.js';
import {
  bucketId,
  validateKeys,
  validateLease,
  type CheckRequest,
  type CheckResult,
  type LimitKey,
  type LimitStore,
  type Lease,
  type Via,
} from './store.js';

export interface MemoryStoreOptions {
  /** Clock in integer epoch ms (tests inject one). Default Date.now. */
  now?: () => number;
  /** How often idle buckets and dead leases are swept. Default 10 s; 0 disables the timer. */
  sweepIntervalMs?: number;
}

export class MemoryStore implements LimitStore {
  private readonly tats = new Map<string, Tat>();
  private readonly leases = new Map<string, Map<number, number>>(); // key → lease id → expiry ms
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout | undefined;
  private nextLease = 1;
  // Made once, not per check (evaluate runs on every relayed call).
  private readonly read = (id: string, now: number): Tat | undefined => this.get(id, now);
  private readonly write = (id: string, t: Tat): void => void this.tats.set(id, t);

  constructor(opts: MemoryStoreOptions = {}) {
    this.now = opts.now ?? Date.now;
    const every = opts.sweepIntervalMs ?? 10_000;
    if (every > 0) {
      this.timer = setInterval(() => this.sweep(), every);
      this.timer.unref();
    }
  }

  async check(req: CheckRequest): Promise<CheckResult> {
    return this.checkNow(req);
  }

  checkNow(req: CheckRequest): CheckResult {
    validateKeys(req.keys);
    const now = this.now();
    return evaluate(this.read, req.keys, now, this.write, 'store');
  }

  async peek(keys: LimitKey[]): Promise<CheckResult> {
    validateKeys(keys);
    return evaluate(this.read, keys, this.now(), undefined, 'store');
  }

  async refund(keys: LimitKey[], via: Via = 'store'): Promise<void> {
    if (via === 'none') return;
    validateKeys(keys);
    const now = this.now();
    for (const k of keys) {
      const id = bucketId(k);
      const t = refunded(this.get(id, now), k, now);
      if (t) this.tats.set(id, t);
      else this.tats.delete(id);
    }
  }

  async charge(keys: LimitKey[], via: Via = 'store'): Promise<void> {
    if (via === 'none') return;
    validateKeys(keys);
    const now = this.now();
    for (const k of keys) {
      const id = bucketId(k);
      this.tats.set(id, charged(this.get(id, now), k, now));
    }
  }

  async acquire(key: string, max: number, ttlMs: number): Promise<Lease> {
    validateLease(key, max, ttlMs);
    const now = this.now();
    let held = this.leases.get(key);
    if (held) for (const [id, exp] of held) if (exp <= now) held.delete(id);
    if (held && held.size >= max) return { ok: false, release: async () => {} };
    if (!held) this.leases.set(key, (held = new Map()));
    const id = this.nextLease++;
    held.set(id, now + ttlMs);
    const set = held;
    return {
      ok: true,
      release: async () => {
        // Deleting an absent id is a no-op, so release is idempotent.
        set.delete(id);
        if (set.size === 0 && this.leases.get(key) === set) this.leases.delete(key);
      },
    };
  }

  /** Drops idle buckets and dead leases; returns how many entries remain. */
  sweep(): number {
    const now = this.now();
    for (const [id, t] of this.tats) if (t.ms < now || (t.ms === now && t.frac === 0)) this.tats.delete(id);
    for (const [key, held] of this.leases) {
      for (const [id, exp] of held) if (exp <= now) held.delete(id);
      if (held.size === 0) this.leases.delete(key);
    }
    return this.size();
  }

  /** Buckets plus lease keys held in memory. */
  size(): number {
    return this.tats.size + this.leases.size;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
  }

  private get(id: string, now: number): Tat | undefined {
    const t = this.tats.get(id);
    if (t && t.ms < now) {
      this.tats.delete(id);
      return undefined;
    }
    return t;
  }
}

// LimitStore on Redis (standalone or Cluster), shared by every gateway instance.
//
// Keys: `<prefix>r:{<tag>}:<key>` for buckets (`<prefix>r:{<key>}` without a tag) and
// `<prefix>c:{<key>}` for lease sets; braces and '%' inside a tag are %-escaped so the hash tag is
// exactly the tag. One check = one atomic Lua script over its keys, on the Redis clock.
// Cluster: a script may only touch one slot, so keys are grouped by tag and each group is one
// atomic script, run in parallel; if any group denies, the groups that admitted are refunded.
// Trade-off: between charge and refund another request may see those groups fuller than they
// are and be denied; nothing is ever over-admitted. Give per-agent keys the agent id as tag so
// the common check is a single group. A standalone Redis has no slots: always one script.
//
// Failures: a command waits for its reply while Redis counts as up; breaker.ts decides when it is
// down (connection failed, or no reply at all for `timeoutMs` with a probe unanswered, or repeated
// error replies) — a slow reply under load never changes a decision. While down the store answers
// by `failureMode` without touching Redis, and PINGs every `probeIntervalMs` (or at once on
// reconnect) until it answers. A command abandoned when the breaker opened may still run on Redis:
// a late admitted check is refunded and a late lease removed when their reply comes. Lease releases
// Redis could not take are retried once it is back (else the lease TTL reclaims them). Needs
// Redis >= 5. Make the client with redis-client.ts so nothing queues offline.
import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { RedisBreaker, RedisDownError } from './breaker.js';
import { LIMITS_LUA, LIMITS_SHA } from './lua.js';
import { esc, merge, parse, specArgs, type Group } from './redis-replies.js';
import { MemoryStore } from './memory-store.js';
import type { FailureMode, RedisStoreOptions, StoreState } from './redis-store-options.js';
import { UnreleasedLeases } from './unreleased-leases.js';

export type { FailureMode, RedisStoreOptions, StoreState } from './redis-store-options.js';
import {
  validateKeys,
  validateLease,
  type CheckRequest,
  type CheckResult,
  type KeyResult,
  type LimitKey,
  type LimitStore,
  type Lease,
  type Via,
} from './store.js';

export class RedisStore implements LimitStore {
  private readonly client: Redis | Cluster;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly mode: FailureMode;
  private readonly probeMs: number;
  private readonly split: boolean;
  private readonly opts: RedisStoreOptions;
  private readonly local = new MemoryStore();
  private readonly breaker: RedisBreaker;
  /** Lease releases Redis did not take: removed once it is back. */
  private readonly unreleased = new UnreleasedLeases();
  private readonly onClientError = (err: Error) => {
    if (!this.breaker.isOpen) this.opts.onError?.(err, 'connection'); // no log storm while reconnecting
    this.breaker.trip(err);
  };
  private readonly onClientReady = () => this.breaker.reconnected();

  constructor(opts: RedisStoreOptions) {
    this.opts = opts;
    this.client = opts.client;
    this.prefix = opts.prefix ?? 'tollgate:';
    if (/[{}]/.test(this.prefix)) throw new TypeError('prefix must not contain braces');
    this.timeoutMs = opts.timeoutMs ?? 500;
    this.mode = opts.failureMode ?? 'local';
    this.probeMs = opts.probeIntervalMs ?? 250;
    this.split = opts.splitByTag ?? this.client.isCluster;
    this.breaker = new RedisBreaker({
      windowMs: this.timeoutMs,
      // A Cluster has a connection per node: other nodes' replies prove nothing about this one.
      ...(this.client.isCluster ? { maxWaitMs: 10 * this.timeoutMs } : {}),
      probeIntervalMs: this.probeMs,
      ping: () => this.client.ping(),
      onStateChange: (state, err) => {
        if (state === 'closed')
          this.unreleased.flush((rkey, ids) => this.breaker.run(() => this.client.zrem(rkey, ...ids)));
        opts.onStateChange?.(state === 'open' ? 'degraded' : 'healthy', err);
      },
    });
    this.client.on('error', this.onClientError);
    this.client.on('ready', this.onClientReady);
  }

  get state(): StoreState {
    return this.breaker.isOpen ? 'degraded' : 'healthy';
  }

  /**
   * Waits (at most `waitMs`) for the connection, then SCRIPT LOADs on every master. Optional: a
   * NOSCRIPT falls back to EVAL anyway. False (and degraded) if Redis is not there.
   */
  async ready(waitMs = 1000): Promise<boolean> {
    const c = this.client;
    try {
      if (c.status !== 'ready') await this.bounded(new Promise((resolve) => c.once('ready', resolve)), waitMs);
      const nodes = c.isCluster ? (c as Cluster).nodes('master') : [c as Redis];
      await this.bounded(Promise.all(nodes.map((n) => n.script('LOAD', LIMITS_LUA))), waitMs);
      return true;
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      this.opts.onError?.(e, 'ready');
      this.breaker.trip(e);
      return false;
    }
  }

  async check(req: CheckRequest): Promise<CheckResult> {
    validateKeys(req.keys);
    return this.decide('check', req.keys);
  }

  async peek(keys: LimitKey[]): Promise<CheckResult> {
    validateKeys(keys);
    return this.decide('peek', keys);
  }

  refund(keys: LimitKey[], via: Via = 'store'): Promise<void> {
    return this.adjust('refund', keys, via);
  }

  charge(keys: LimitKey[], via: Via = 'store'): Promise<void> {
    return this.adjust('charge', keys, via);
  }

  async acquire(key: string, max: number, ttlMs: number): Promise<Lease> {
    validateLease(key, max, ttlMs);
    if (!this.breaker.isOpen) {
      const rkey = `${this.prefix}c:{${esc(key)}}`;
      const id = randomUUID();
      try {
        const ok =
          (await this.breaker.run(
            () => this.eval([rkey], ['acquire', this.nowArg(), max, ttlMs, id]),
            // Abandoned (Redis counted as down): if it still ran, give the place back.
            (late) => void late.then((r) => (r === 1 ? this.client.zrem(rkey, id) : 0)).catch(() => {}),
          )) === 1;
        let released = !ok;
        return {
          ok,
          release: async () => {
            if (released) return;
            released = true;
            // Never wait on a dead Redis in a finally path: keep it for when Redis is back.
            if (this.breaker.isOpen) return this.unreleased.keep(rkey, id);
            try {
              await this.breaker.run(() => this.client.zrem(rkey, id));
            } catch (err) {
              this.report(err, 'release');
              this.unreleased.keep(rkey, id);
            }
          },
        };
      } catch (err) {
        this.report(err, 'acquire');
      }
    }
    if (this.mode === 'local') return this.local.acquire(key, max, ttlMs);
    return { ok: this.mode === 'fail_open', release: async () => {} };
  }

  async close(): Promise<void> {
    this.breaker.stop();
    this.client.off('error', this.onClientError);
    this.client.off('ready', this.onClientReady);
    if (this.opts.ownsClient) this.client.disconnect();
    await this.local.close();
  }

  private async decide(mode: 'check' | 'peek', keys: LimitKey[]): Promise<CheckResult> {
    if (keys.length === 0) return { allowed: true, retryAfterMs: 0, results: [], via: 'store' };
    if (!this.breaker.isOpen) {
      const groups = this.groups(keys);
      const settled = await Promise.allSettled(
        groups.map((g) =>
          this.breaker
            .run(
              () => this.eval(this.names(g.keys), [mode, this.nowArg(), ...specArgs(g.keys)]),
              mode === 'check' ? (late) => this.refundLate(late, g.keys) : undefined,
            )
            .then((raw) => parse(raw, g.keys)),
        ),
      );
      const parsed = settled.map((s) => (s.status === 'fulfilled' ? s.value : undefined));
      const allowed = parsed.every((p) => p?.allowed === true);
      if (!allowed && mode === 'check') {
        // Undo the groups that did admit (only possible with more than one group).
        const undo = groups.filter((_, i) => parsed[i]?.allowed === true).flatMap((g) => g.keys);
        if (undo.length > 0) await this.adjust('refund', undo, 'store');
      }
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (!failed) return merge(keys, groups, parsed as CheckResult[], mode === 'check' && !allowed);
      this.report(failed.reason, mode);
    }
    return this.fallback(mode, keys);
  }

  private async fallback(mode: 'check' | 'peek', keys: LimitKey[]): Promise<CheckResult> {
    if (this.mode === 'local') {
      const r = mode === 'check' ? await this.local.check({ keys }) : await this.local.peek(keys);
      return { ...r, via: 'fallback', degraded: true };
    }
    const open = this.mode === 'fail_open';
    const results = keys.map(
      (k): KeyResult => ({ key: k.key, limit: k.limit, remaining: open ? k.limit : 0, resetMs: 0, allowed: open }),
    );
    if (open) return { allowed: true, retryAfterMs: 0, results, via: 'none', degraded: true };
    return {
      allowed: false,
      retryAfterMs: this.probeMs,
      results,
      reason: 'store_unavailable',
      via: 'none',
      degraded: true,
    };
  }

  private async adjust(mode: 'refund' | 'charge', keys: LimitKey[], via: Via): Promise<void> {
    if (via === 'none' || keys.length === 0) return;
    validateKeys(keys);
    if (via === 'fallback') return mode === 'refund' ? this.local.refund(keys) : this.local.charge(keys);
    if (!this.breaker.isOpen) {
      try {
        await Promise.all(
          this.groups(keys).map((g) =>
            this.breaker.run(() => this.eval(this.names(g.keys), [mode, this.nowArg(), ...specArgs(g.keys)])),
          ),
        );
        return;
      } catch (err) {
        this.report(err, mode);
      }
    }
    // Redis unreachable: a refund is dropped (never refund what we can't see); a charge still
    // counts against the local fallback, which is what answers until Redis is back.
    if (mode === 'charge' && this.mode === 'local') await this.local.charge(keys);
  }

  private groups(keys: LimitKey[]): Group[] {
    if (!this.split) return [{ keys, index: keys.map((_, i) => i) }];
    const byTag = new Map<string, Group>();
    keys.forEach((k, i) => {
      const tag = k.tag ?? k.key;
      let g = byTag.get(tag);
      if (!g) byTag.set(tag, (g = { keys: [], index: [] }));
      g.keys.push(k);
      g.index.push(i);
    });
    return [...byTag.values()];
  }

  private names(keys: LimitKey[]): string[] {
    return keys.map((k) =>
      k.tag === undefined ? `${this.prefix}r:{${esc(k.key)}}` : `${this.prefix}r:{${esc(k.tag)}}:${k.key}`,
    );
  }

  private nowArg(): string {
    return this.opts.now ? String(this.opts.now()) : '';
  }

  /** EVALSHA; on NOSCRIPT (script cache flushed, failover, new node) EVAL, which also re-caches it. */
  private async eval(keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await this.client.evalsha(LIMITS_SHA, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
      return this.client.eval(LIMITS_LUA, keys.length, ...keys, ...args);
    }
  }

  private bounded<T>(p: Promise<T>, ms = this.timeoutMs): Promise<T> {
    p.catch(() => {}); // a late rejection after the timeout is expected, not unhandled
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`redis did not answer within ${ms} ms`)), ms);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  /** An error talking to Redis, for logs and metrics (a call not sent because Redis is down is none). */
  private report(err: unknown, op: string): void {
    if (err instanceof RedisDownError && err.notSent) return;
    const e = err instanceof RedisDownError ? err.reason : err instanceof Error ? err : new Error(String(err));
    this.opts.onError?.(e, op);
  }

  /** A check abandoned when Redis counted as down was answered by the failure mode: undo it if it ran. */
  private refundLate(late: Promise<unknown>, keys: LimitKey[]): void {
    late
      .then((raw) => {
        if (!parse(raw, keys).allowed) return;
        return this.eval(this.names(keys), ['refund', this.nowArg(), ...specArgs(keys)]);
      })
      .catch(() => {});
  }
}

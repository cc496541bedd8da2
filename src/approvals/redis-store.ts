// Approvals in Redis (`approvals.store: redis`), shared by every gateway instance: one hash of
// approvals (written once, when asked) and one of decisions (written once, by whoever decides first:
// a Lua compare-and-set), both under one hash tag so Cluster keeps them together. A decision is
// published on the approvals channel; the instance holding the call reads it and releases or refuses
// the call. Each instance keeps a heartbeat key while it runs: a pending approval whose holder's
// heartbeat is gone (the instance died) is listed, and decided, as void.
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Rate } from '../config/runtime-units.js';
import { KEEP_DECIDED, type Approval, type ApprovalStore, type Decision } from './store.js';
import { redisAdmit, type RequestAdmission } from './request-rate.js';
import { DecisionWatchers } from './watchers.js';

type Client = Redis | Cluster;

/** A pending approval this long past its timeout has no holder any more. */
const ORPHAN_GRACE_MS = 60_000;

/** Decides once: [1, decision] when this call decided, [0, earlier decision], or nil (no such approval). */
const DECIDE = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return false end
local d = redis.call('HGET', KEYS[2], ARGV[1])
if d then return {0, d} end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PUBLISH', KEYS[1], ARGV[1])
return {1, ARGV[2]}`;

interface StoredDecision {
  status: Decision['status'];
  by: string;
  groups?: readonly string[];
  reason?: string;
  at: number;
}

export interface RedisApprovalStoreOptions {
  client: Client;
  /** A second connection for the subscription. */
  subscriber: Client;
  prefix: string;
  /** This instance (approvals it holds carry it). */
  instance: string;
  log: Logger;
  /** How often this instance renews its heartbeat; it lapses after three missed renewals. */
  heartbeatMs?: number;
}

export class RedisApprovalStore implements ApprovalStore {
  readonly kind = 'redis';
  private readonly key: string;
  private readonly decisions: string;
  private readonly watchers = new DecisionWatchers();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly heartbeatMs: number;
  private readonly startedAt = Date.now();
  /** Watched approvals whose decision was announced but could not be read then: read at each heartbeat. */
  private readonly unread = new Set<string>();
  /** Settles once the first subscription is in place (or failed; it is renewed on reconnection). */
  readonly subscribed: Promise<void>;

  constructor(private readonly opts: RedisApprovalStoreOptions) {
    this.key = `${opts.prefix}{approvals}`;
    this.decisions = `${opts.prefix}{approvals}:decided`;
    this.heartbeatMs = opts.heartbeatMs ?? 10_000;
    for (const c of [opts.client, opts.subscriber])
      c.on('error', (err: Error) => opts.log.debug({ err: err.message }, 'approvals: Redis connection error'));
    opts.subscriber.on('message', (channel: string, id: string) => {
      if (channel === this.key) this.changed(id);
    });
    // Decisions published while we were disconnected are lost: look again at everything watched.
    opts.subscriber.on('ready', () => {
      for (const id of this.watchers.ids()) this.changed(id);
    });
    this.subscribed = opts.subscriber.subscribe(this.key).then(
      () => undefined,
      (err: Error) => opts.log.warn({ err: err.message }, 'approvals: subscribe failed'),
    );
    const beat = (): void => {
      for (const id of [...this.unread]) {
        this.unread.delete(id);
        this.changed(id);
      }
      // Also tidies: old decisions go, a dead instance's approvals are marked void without a page visit.
      this.list().catch((err: Error) => opts.log.debug({ err: err.message }, 'approvals: tidy failed'));
      opts.client
        .set(this.holderKey(opts.instance), '1', 'PX', this.heartbeatMs * 3)
        .catch((err: Error) => opts.log.debug({ err: err.message }, 'approvals: heartbeat failed'));
    };
    beat();
    this.heartbeat = setInterval(beat, this.heartbeatMs);
    this.heartbeat.unref();
  }

  private holderKey(instance: string): string {
    return `${this.opts.prefix}{approvals}:holder:${instance}`;
  }

  private changed(id: string): void {
    if (!this.watchers.has(id)) return;
    this.get(id).then(
      (a) => {
        if (a && a.status !== 'pending') this.watchers.notify(id, a);
      },
      (err: Error) => {
        // Redis too slow or gone for this read (a rejection left unhandled would end the process):
        // the decision is in Redis, so the held call is told at a later heartbeat.
        if (this.watchers.has(id)) this.unread.add(id);
        this.opts.log.warn(
          { err: err.message, approval: id },
          'approvals: cannot read the decision of a held call now; reading it again at the next heartbeat',
        );
      },
    );
  }

  async add(a: Approval): Promise<void> {
    await this.opts.client.hset(this.key, a.id, JSON.stringify(a));
  }

  async get(id: string): Promise<Approval | undefined> {
    const [raw, d] = await Promise.all([
      this.opts.client.hget(this.key, id),
      this.opts.client.hget(this.decisions, id),
    ]);
    return raw ? merge(raw, d) : undefined;
  }

  async list(): Promise<Approval[]> {
    const [all, decided] = await Promise.all([
      this.opts.client.hgetall(this.key),
      this.opts.client.hgetall(this.decisions),
    ]);
    const out = Object.entries(all).flatMap(([id, raw]) => {
      try {
        return [merge(raw, decided[id] ?? null)];
      } catch {
        return [];
      }
    });
    await this.voidOrphans(out);
    out.sort((x, y) => (y.decidedAt ?? y.requestedAt) - (x.decidedAt ?? x.requestedAt));
    const old = out.filter((a) => a.status !== 'pending').slice(KEEP_DECIDED);
    if (old.length > 0) {
      const ids = old.map((a) => a.id);
      await this.opts.client.hdel(this.key, ...ids);
      await this.opts.client.hdel(this.decisions, ...ids);
    }
    return out.filter((a) => !old.includes(a));
  }

  /** Pending approvals held by an instance whose heartbeat lapsed: that call is gone; say so. */
  private async voidOrphans(list: Approval[]): Promise<void> {
    const now = Date.now();
    // A holder is gone when its heartbeat lapsed, when the approval is well past its own timeout (the
    // holder would have decided it), or when it is this instance id's earlier life (a restart that
    // kept the id: host name and pid 1 in a container).
    const others = list.filter((a) => a.status === 'pending' && a.holder !== this.opts.instance);
    const holders = [...new Set(others.map((a) => a.holder))];
    const alive = holders.length ? await this.opts.client.mget(...holders.map((h) => this.holderKey(h))) : [];
    const dead = new Set(holders.filter((_, i) => alive[i] === null));
    for (const [i, a] of list.entries()) {
      if (a.status !== 'pending') continue;
      const earlierLife = a.holder === this.opts.instance && a.requestedAt < this.startedAt;
      if (!dead.has(a.holder) && !earlierLife && a.expiresAt + ORPHAN_GRACE_MS > now) continue;
      const d = await this.decide(
        a.id,
        { status: 'void', by: '@gateway', reason: `the gateway instance holding the call (${a.holder}) stopped` },
        now,
      );
      if (d) list[i] = d;
    }
  }

  async decide(id: string, d: Decision, at: number): Promise<Approval | undefined> {
    const stored: StoredDecision = {
      status: d.status,
      by: d.by,
      at,
      ...(d.groups ? { groups: d.groups } : {}),
      ...(d.reason ? { reason: d.reason } : {}),
    };
    const r = (await this.opts.client.eval(DECIDE, 2, this.key, this.decisions, id, JSON.stringify(stored))) as
      | [number, string]
      | null;
    if (!r) return undefined;
    const raw = await this.opts.client.hget(this.key, id);
    return raw ? merge(raw, r[1]) : undefined;
  }

  /**
   * A key per usable state, not per spent one: spending deletes it (one DEL, so two instances
   * cannot both spend it), and one never answered expires with its state. Redis then holds only
   * states that can still be used, not every spent one until its expiry.
   */
  async issue(nonce: string, untilMs: number): Promise<void> {
    const ttl = Math.max(1, untilMs - Date.now());
    await this.opts.client.set(this.stateKey(nonce), '1', 'PX', ttl);
  }

  async spend(nonce: string): Promise<boolean> {
    return (await this.opts.client.del(this.stateKey(nonce))) === 1;
  }

  private stateKey(nonce: string): string {
    return `${this.opts.prefix}{approvals}:state:${nonce}`;
  }

  /** Per agent, under the approvals hash tag (one slot, as everything of the approvals). */
  admitRequest(agent: string, rate: Rate): Promise<RequestAdmission> {
    return redisAdmit(this.opts.client, `${this.opts.prefix}{approvals}:rate:${agent}`, rate);
  }

  watch(id: string, onDecided: (a: Approval) => void): () => void {
    return this.watchers.watch(id, onDecided);
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    this.watchers.clear();
    await this.opts.client.del(this.holderKey(this.opts.instance)).catch(() => undefined);
    for (const c of [this.opts.subscriber, this.opts.client]) await c.quit().catch(() => c.disconnect());
  }
}

function merge(raw: string, decision: string | null): Approval {
  const a = JSON.parse(raw) as Approval;
  if (decision === null) return a;
  const d = JSON.parse(decision) as StoredDecision;
  return {
    ...a,
    status: d.status,
    decidedBy: d.by,
    decidedAt: d.at,
    ...(d.groups ? { decidedByGroups: d.groups } : {}),
    ...(d.reason ? { reason: d.reason } : {}),
  };
}

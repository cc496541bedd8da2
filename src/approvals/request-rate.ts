// How often an agent may ask for approval (`approvals.requests_per_agent`): the cap on held calls
// bounds a burst, but an agent that withdraws its calls, or lets them time out, and asks again would
// otherwise notify the approvers (webhook, admin page, its user) without end. The same GCRA as the
// limits (limits/gcra.ts: bursts up to the limit, then limit per period), kept by the approvals
// store: in memory for one instance, in Redis (one atomic script) for all instances together.
import type { Cluster, Redis } from 'ioredis';
import type { Rate } from '../config/runtime-units.js';
import { LIMITS_LUA } from '../limits/lua.js';
import { MemoryStore } from '../limits/memory-store.js';
import { parse } from '../limits/redis-replies.js';
import type { LimitKey } from '../limits/store.js';

export interface RequestAdmission {
  allowed: boolean;
  /** 0 when allowed; else the wait after which one more request passes. */
  retryAfterMs: number;
}

const keyOf = (key: string, rate: Rate): LimitKey => ({
  key,
  limit: rate.limit,
  periodMs: rate.periodMs,
  cost: 1,
});

/** The rate in this instance's memory (`approvals.store: memory`). */
export function memoryRequestRate(opts: { now?: () => number } = {}): {
  admit(agent: string, rate: Rate): RequestAdmission;
  close(): Promise<void>;
} {
  const store = new MemoryStore(opts.now ? { now: opts.now } : {});
  return {
    admit: (agent, rate) => {
      const r = store.checkNow({ keys: [keyOf(agent, rate)] });
      return { allowed: r.allowed, retryAfterMs: r.retryAfterMs };
    },
    close: () => store.close(),
  };
}

/**
 * One check in Redis, under `key`: the limits store's script, so the check and the charge are one
 * atomic step for every instance (on the Redis clock), and the key expires once its period passed.
 */
export async function redisAdmit(client: Redis | Cluster, key: string, rate: Rate): Promise<RequestAdmission> {
  const k = keyOf(key, rate);
  // EVAL, not EVALSHA: a request for approval is rare, and Redis caches the script anyway.
  const raw = await client.eval(LIMITS_LUA, 1, key, 'check', '', k.limit, k.periodMs, k.cost);
  const r = parse(raw, [k]);
  return { allowed: r.allowed, retryAfterMs: r.retryAfterMs };
}

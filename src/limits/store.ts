// The rate-limit / token-budget store contract, shared by the in-memory and Redis stores.
//
// Every limit is GCRA (generic cell rate algorithm): `limit` units per `periodMs` on average, burst
// up to `limit` — so up to 2·limit − 1 within one period (a burst, then the refill; README). Why
// GCRA: one timestamp (the theoretical arrival time, TAT) per key, so O(1) state and one read + one
// write per check; no fixed-window boundary where 2×limit gets through at once; integer costs make
// the same code serve request counts (cost 1) and token budgets (cost = tokens); and a refund is
// just moving the TAT back. See gcra.ts for the arithmetic.

/** One limit to charge: `cost` units against `limit` per `periodMs` (GCRA). */
export interface LimitKey {
  /** Identity of the bucket, e.g. `agent:a1:calls`. */
  key: string;
  limit: number;
  periodMs: number;
  /** Integer ≥ 0. A cost above `limit` can never be admitted. */
  cost: number;
  /**
   * Placement hint for Redis Cluster: keys with the same tag share a hash slot, so one check over
   * them is one atomic script. Use the agent id for per-agent keys. Default: the key itself. Part of
   * the bucket identity (same key, different tag = different bucket).
   */
  tag?: string;
}

export interface CheckRequest {
  keys: LimitKey[];
}

export interface KeyResult {
  key: string;
  limit: number;
  /** Units still admissible now (after this charge, if it was admitted). */
  remaining: number;
  /** Ms until the bucket is fully replenished. */
  resetMs: number;
  /** Whether this key alone would admit its cost. */
  allowed: boolean;
}

/** Why a check was denied. */
export type DenyReason = 'limited' | 'cost_exceeds_limit' | 'store_unavailable';

/**
 * Which backend a decision charged, so refunds and extra charges go to the same place:
 * `store` = the store itself (Redis for RedisStore), `fallback` = RedisStore's local MemoryStore,
 * `none` = nothing was charged (fail_open / fail_closed decisions while Redis is unreachable).
 */
export type Via = 'store' | 'fallback' | 'none';

export interface CheckResult {
  allowed: boolean;
  /** 0 when allowed; otherwise the smallest wait after which the same check would pass; -1 = never. */
  retryAfterMs: number;
  results: KeyResult[];
  reason?: DenyReason;
  via: Via;
  /** True when the primary store was not consulted (Redis down: fail_open, fail_closed or local). */
  degraded?: boolean;
}

export interface Lease {
  ok: boolean;
  /** Idempotent; never throws. */
  release(): Promise<void>;
}

export interface LimitStore {
  /** All-or-nothing: charges every key or none. */
  check(req: CheckRequest): Promise<CheckResult>;
  /**
   * The same check answered in the calling turn, by stores that need no I/O (MemoryStore); throws
   * where check rejects. Lets the limits step pass a call on without a promise of its own.
   */
  checkNow?(req: CheckRequest): CheckResult;
  /** Like check (same result shape, `allowed` = would it pass) but charges nothing. */
  peek(keys: LimitKey[]): Promise<CheckResult>;
  /** Moves each TAT back by cost·T, never before now. Never throws. */
  refund(keys: LimitKey[], via?: Via): Promise<void>;
  /** Unconditional charge (already consumed, e.g. tokens beyond an estimate): may go into debt. Never throws. */
  charge(keys: LimitKey[], via?: Via): Promise<void>;
  /** Concurrency limiter: at most `max` leases per key; an unreleased lease expires after `ttlMs`. */
  acquire(key: string, max: number, ttlMs: number): Promise<Lease>;
  close(): Promise<void>;
}

const MAX = Number.MAX_SAFE_INTEGER;

/** Rejects inputs the exact integer arithmetic cannot handle (programming errors, so throw). */
export function validateKeys(keys: LimitKey[]): void {
  for (const k of keys) {
    if (typeof k.key !== 'string' || k.key.length === 0) throw new TypeError('limit key must be a non-empty string');
    if (k.tag !== undefined && (typeof k.tag !== 'string' || k.tag.length === 0))
      throw new TypeError(`tag of ${k.key} must be a non-empty string`);
    if (!Number.isSafeInteger(k.limit) || k.limit < 1)
      throw new RangeError(`limit of ${k.key} must be a positive integer`);
    if (!Number.isSafeInteger(k.periodMs) || k.periodMs < 1)
      throw new RangeError(`periodMs of ${k.key} must be a positive integer`);
    if (!Number.isSafeInteger(k.cost) || k.cost < 0) throw new RangeError(`cost of ${k.key} must be an integer >= 0`);
    // c·P must be exact in a double (Lua numbers are doubles too).
    if (k.cost * k.periodMs > MAX || k.limit * 2 > MAX)
      throw new RangeError(`cost × periodMs (or limit) of ${k.key} is too large`);
  }
}

export function validateLease(key: string, max: number, ttlMs: number): void {
  if (typeof key !== 'string' || key.length === 0) throw new TypeError('lease key must be a non-empty string');
  if (!Number.isSafeInteger(max) || max < 1) throw new RangeError('max must be a positive integer');
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new RangeError('ttlMs must be a positive integer');
}

/** Ids of keys checked again and again (cached plans): a check then joins no id string per key. */
const knownIds = new WeakMap<LimitKey, string>();

const idOf = (k: LimitKey): string => (k.tag === undefined ? k.key : `${k.tag}\u0000${k.key}`);

/** Bucket identity shared by both stores (Redis adds prefix and hash-tag braces). */
export function bucketId(k: LimitKey): string {
  return knownIds.get(k) ?? idOf(k);
}

/** Makes k's bucket id once, for keys that are reused; k must not change afterwards. */
export function rememberBucketId(k: LimitKey): void {
  knownIds.set(k, idOf(k));
}

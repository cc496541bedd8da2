// GCRA arithmetic, exact in integers. lua.ts is a line-by-line mirror of this file; keep them in step.
//
// Emission interval T = periodMs/limit is rarely an integer (3 per second: 333.33… ms), and rounding
// it either way drifts (rounded up, a burst of `limit` no longer fits in the period; rounded down,
// the long-run rate creeps above the limit). So a TAT is kept as a mixed number:
//   TAT = ms + frac/den   (ms integer epoch milliseconds, 0 ≤ frac < den, den = the limit)
// and c·T = c·periodMs/limit is split into quotient and remainder. Every intermediate is an integer
// below 2^53, so JS numbers and Lua doubles compute identical, exact results. Time resolution is
// 1 ms (Redis TIME is truncated to ms). Admission is always exact; `remaining` is a display value,
// exact while limit·periodMs < 2^53 and approximate (by a unit at most) beyond.
import { bucketId, type CheckResult, type KeyResult, type LimitKey, type Via } from './store.js';

export interface Tat {
  ms: number;
  frac: number;
  den: number;
}

type Spec = Pick<LimitKey, 'limit' | 'periodMs' | 'cost'>;

/** c·T as quotient + remainder/limit, with a correction step in case the float division rounded. */
function step(cost: number, periodMs: number, limit: number): [number, number] {
  const cp = cost * periodMs;
  let q = Math.floor(cp / limit);
  let r = cp - q * limit;
  if (r < 0) {
    q -= 1;
    r += limit;
  }
  if (r >= limit) {
    q += 1;
    r -= limit;
  }
  return [q, r];
}

/** Re-expresses a stored TAT in 1/limit units (the limit may have changed since it was written). */
function rebase(t: Tat, limit: number): Tat {
  if (t.den === limit) return t;
  let f = Math.ceil((t.frac * limit) / t.den); // round against the caller: never gain allowance
  let ms = t.ms;
  if (f >= limit) {
    ms += 1;
    f -= limit;
  }
  return { ms, frac: f, den: limit };
}

/** max(TAT, now). A missing key is a TAT in the past. */
export function base(cur: Tat | undefined, limit: number, now: number): Tat {
  if (cur === undefined || cur.ms < now) return { ms: now, frac: 0, den: limit };
  return rebase(cur, limit);
}

function add(t: Tat, s: Spec): Tat {
  const [q, r] = step(s.cost, s.periodMs, s.limit);
  let ms = t.ms + q;
  let frac = t.frac + r;
  if (frac >= s.limit) {
    ms += 1;
    frac -= s.limit;
  }
  return { ms, frac, den: s.limit };
}

/** A key's result: units admissible now and ms until full, for a TAT ≥ now. */
function keyResult(k: LimitKey, t: Tat, now: number, allowed: boolean): KeyResult {
  const d = t.ms - now;
  const avail = (k.periodMs - d) * k.limit - t.frac;
  const remaining = avail <= 0 ? 0 : Math.floor(avail / k.periodMs);
  return { key: k.key, limit: k.limit, remaining, resetMs: d + (t.frac > 0 ? 1 : 0), allowed };
}

export interface Decision {
  allowed: boolean;
  next: Tat;
  /** ms to wait for this key alone; 0 if allowed, -1 if never. */
  waitMs: number;
}

/** new TAT = max(TAT, now) + c·T; admit iff new − now ≤ periodMs. */
export function decide(cur: Tat | undefined, s: Spec, now: number): Decision {
  const next = add(base(cur, s.limit, now), s);
  const over = next.ms - now - s.periodMs; // admitted iff over < 0, or over == 0 with no fraction
  if (over < 0 || (over === 0 && next.frac === 0)) return { allowed: true, next, waitMs: 0 };
  return { allowed: false, next, waitMs: s.cost > s.limit ? -1 : over + (next.frac > 0 ? 1 : 0) };
}

/** Unconditional charge: max(TAT, now) + c·T, possibly beyond now + period (debt). */
export function charged(cur: Tat | undefined, s: Spec, now: number): Tat {
  return add(base(cur, s.limit, now), s);
}

/** TAT − c·T, or undefined (= delete the key) when that is not after now. */
export function refunded(cur: Tat | undefined, s: Spec, now: number): Tat | undefined {
  if (cur === undefined) return undefined;
  const t = rebase(cur, s.limit);
  const [q, r] = step(s.cost, s.periodMs, s.limit);
  let ms = t.ms - q;
  let frac = t.frac - r;
  if (frac < 0) {
    ms -= 1;
    frac += s.limit;
  }
  if (ms < now || (ms === now && frac === 0)) return undefined;
  return { ms, frac, den: s.limit };
}

/** Ms until a TAT is in the past (the key's TTL); at least 1. */
export function ttlMs(t: Tat, now: number): number {
  return Math.max(1, t.ms - now + (t.frac > 0 ? 1 : 0));
}

/** A stored TAT by bucket id (undefined: none, or already in the past). */
export type TatReader = (id: string, now: number) => Tat | undefined;
/** Stores a bucket's new TAT. */
export type TatWriter = (id: string, t: Tat) => void;

/**
 * All-or-nothing over keys. A key listed twice sees its own earlier tentative charge (its wait is
 * then a lower bound). The request waits for its slowest key: retryAfter = max of per-key waits,
 * -1 if any can never pass. `write` (none for a peek) gets each bucket's new TAT, only when the
 * whole request is admitted. `via` is the caller's backend, passed through to the result.
 *
 * The tentative state is kept by position, not in a Map keyed by id (as lua.ts does): ids almost
 * never repeat and a request has a handful of keys, so looking back along the list allocates less
 * than Maps per call (this runs on every relayed call).
 */
export function evaluate(
  read: TatReader,
  keys: readonly LimitKey[],
  now: number,
  write: TatWriter | undefined,
  via: Via,
): CheckResult {
  const n = keys.length;
  // Sized up front: arrays grown by push start at 17 slots, most of the bytes of a check.
  const ids = keys.map(bucketId);
  const after = new Array<Tat | undefined>(n); // the bucket's tentative TAT once key i is decided
  const admits = new Array<boolean>(n);
  let allowed = true;
  let wait = 0;
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    const j = previous(ids, i);
    const cur = j < 0 ? read(ids[i]!, now) : after[j];
    const d = decide(cur, k, now);
    after[i] = d.allowed ? d.next : cur;
    admits[i] = d.allowed;
    if (!d.allowed) {
      allowed = false;
      // A key listed twice can never pass if its costs sum above the limit.
      const w = costSoFar(keys, ids, i) > k.limit ? -1 : d.waitMs;
      wait = wait === -1 || w === -1 ? -1 : Math.max(wait, w);
    }
  }
  const charging = allowed && write !== undefined;
  const results = new Array<KeyResult>(n);
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    // Final charged state if the whole request is admitted (and charging); otherwise as it is.
    const t = base(charging ? after[last(ids, i)] : read(ids[i]!, now), k.limit, now);
    results[i] = keyResult(k, t, now, admits[i]!);
  }
  if (charging) {
    // One write per bucket: its last tentative TAT.
    for (let i = 0; i < n; i++) if (last(ids, i) === i) write(ids[i]!, after[i]!);
    return { allowed, retryAfterMs: 0, results, via };
  }
  if (allowed) return { allowed, retryAfterMs: 0, results, via };
  return { allowed, retryAfterMs: wait, reason: wait === -1 ? 'cost_exceeds_limit' : 'limited', results, via };
}

/** The previous key with key i's bucket, or -1. */
function previous(ids: readonly string[], i: number): number {
  for (let j = i - 1; j >= 0; j--) if (ids[j] === ids[i]) return j;
  return -1;
}

/** The last key with key i's bucket (i itself unless the bucket is listed again later). */
function last(ids: readonly string[], i: number): number {
  for (let j = ids.length - 1; j > i; j--) if (ids[j] === ids[i]) return j;
  return i;
}

/** Total cost of key i's bucket over keys 0..i. */
function costSoFar(keys: readonly LimitKey[], ids: readonly string[], i: number): number {
  let sum = 0;
  for (let j = 0; j <= i; j++) if (ids[j] === ids[i]) sum += keys[j]!.cost;
  return sum;
}

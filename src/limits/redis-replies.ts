// The limits script's arguments and replies, for RedisStore: key escaping, per-key arguments,
// parsing a check/peek reply, and joining the replies of several slot groups (Cluster).
import type { CheckResult, KeyResult, LimitKey } from './store.js';

/** The keys of one slot group and their positions in the whole check. */
export type Group = { keys: LimitKey[]; index: number[] };

export function esc(s: string): string {
  return s.replace(/[%{}]/g, (c) => encodeURIComponent(c));
}

export function specArgs(keys: LimitKey[]): number[] {
  return keys.flatMap((k) => [k.limit, k.periodMs, k.cost]);
}

export function parse(raw: unknown, keys: LimitKey[]): CheckResult {
  if (!Array.isArray(raw) || raw.length !== 3 + keys.length * 3) throw new Error('unexpected reply from limits script');
  const n = (i: number): number => Number(raw[i]);
  const results = keys.map(
    (k, i): KeyResult => ({
      key: k.key,
      limit: k.limit,
      remaining: n(3 + 3 * i),
      resetMs: n(4 + 3 * i),
      allowed: n(5 + 3 * i) === 1,
    }),
  );
  const allowed = n(0) === 1;
  if (allowed) return { allowed, retryAfterMs: 0, results, via: 'store' };
  return { allowed, retryAfterMs: n(1), reason: n(2) === 2 ? 'cost_exceeds_limit' : 'limited', results, via: 'store' };
}

/** Joins per-group answers; for a denied multi-group check, admitted groups are shown as refunded. */
export function merge(keys: LimitKey[], groups: Group[], parts: CheckResult[], refunded: boolean): CheckResult {
  if (parts.length === 1) return parts[0]!;
  const results: KeyResult[] = new Array<KeyResult>(keys.length);
  let wait = 0;
  groups.forEach((g, gi) => {
    const p = parts[gi]!;
    g.index.forEach((ki, j) => {
      const r = p.results[j]!;
      results[ki] = refunded && p.allowed ? { ...r, remaining: Math.min(r.limit, r.remaining + keys[ki]!.cost) } : r;
    });
    if (!p.allowed) wait = wait === -1 || p.retryAfterMs === -1 ? -1 : Math.max(wait, p.retryAfterMs);
  });
  if (parts.every((p) => p.allowed)) return { allowed: true, retryAfterMs: 0, results, via: 'store' };
  return {
    allowed: false,
    retryAfterMs: wait,
    reason: wait === -1 ? 'cost_exceeds_limit' : 'limited',
    results,
    via: 'store',
  };
}

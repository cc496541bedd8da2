// The limits store as one traced call sees it: the same store, with the time spent waiting on it
// (Redis round trips when `limits.store: redis`) added up for that call's `limits` span. Made only
// for sampled calls; the limits step uses it through call.limitsStore.
import type { Lease, LimitStore } from '../limits/store.js';

export interface StoreTime {
  ms: number;
  ops: number;
}

export function timedStore(store: LimitStore, acc: StoreTime): LimitStore {
  const time = async <T>(op: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await op();
    } finally {
      acc.ms += performance.now() - t0;
      acc.ops++;
    }
  };
  return {
    check: (req) => time(() => store.check(req)),
    peek: (keys) => time(() => store.peek(keys)),
    refund: (keys, via) => time(() => store.refund(keys, via)),
    charge: (keys, via) => time(() => store.charge(keys, via)),
    acquire: async (key, max, ttlMs): Promise<Lease> => {
      const lease = await time(() => store.acquire(key, max, ttlMs));
      return { ok: lease.ok, release: () => time(() => lease.release()) };
    },
    close: () => store.close(),
  };
}

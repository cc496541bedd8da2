// The limits store the config asks for: in memory (one gateway), or Redis (shared by replicas).
import type { Logger } from 'pino';
import type { RuntimeConfig } from '../config/runtime.js';
import type { LimitStore } from './store.js';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import { limitsStoreClient } from './redis-client.js';

/** Late-bound observers (the metrics exist only once the gateway does). */
export interface LimitStoreHooks {
  onError?: (op: string) => void;
}

export async function openLimitStore(
  cfg: RuntimeConfig['limits'],
  log: Logger,
  hooks: LimitStoreHooks = {},
): Promise<LimitStore> {
  if (cfg.store === 'memory') return new MemoryStore();
  const r = cfg.redis;
  const client = limitsStoreClient(r);
  const store = new RedisStore({
    client,
    ownsClient: true,
    prefix: r.prefix,
    timeoutMs: r.timeoutMs,
    failureMode: r.failureMode,
    onStateChange: (state, err) =>
      state === 'healthy'
        ? log.info('limits store: Redis is back; limits are shared again')
        : log.warn(
            { err: err?.message, mode: r.failureMode },
            'limits store: Redis unavailable; applying failure mode',
          ),
    onError: (err, op) => {
      log.debug({ err: err.message, op }, 'limits store error');
      hooks.onError?.(op);
    },
  });
  if (!(await store.ready()))
    log.warn({ mode: r.failureMode }, 'limits store: Redis not reachable at start; applying failure mode until it is');
  return store;
}

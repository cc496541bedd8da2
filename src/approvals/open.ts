// The approvals store and service the config asks for.
import type { Logger } from 'pino';
import type { RuntimeConfig } from '../config/runtime.js';
import { redisClient } from '../limits/redis-client.js';
import { RedisApprovalStore } from './redis-store.js';
import { MemoryApprovalStore, type ApprovalStore } from './store.js';

/** Memory (one instance), or Redis (limits.redis) shared by every instance. */
export function openApprovalStore(config: RuntimeConfig, log: Logger): ApprovalStore {
  if (config.approvals.store === 'memory') return new MemoryApprovalStore();
  const r = config.limits.redis;
  // Commands wait a little for a reconnecting Redis rather than fail a decision at once.
  const extra = { enableOfflineQueue: true, commandTimeout: 5000 };
  return new RedisApprovalStore({
    client: redisClient(r, extra),
    subscriber: redisClient(r, extra),
    prefix: r.prefix,
    instance: config.instanceId,
    log,
  });
}

// Redis clients for the limits store and the session bus: standalone or Cluster, failing fast
// rather than holding commands while disconnected.
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import type { RuntimeConfig } from '../config/runtime.js';
import { loadWhenUsed } from '../load-when-used.js';

const ioredis = loadWhenUsed<typeof import('ioredis')>('ioredis');

/**
 * Client options that keep Redis from holding requests: no offline queue (commands fail at once
 * while disconnected), no resend after a reconnect (a check must not be charged twice, late).
 */
export function limitsRedisOptions(extra: RedisOptions = {}): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: 1000,
    retryStrategy: (times: number) => Math.min(times * 100, 1000),
    ...extra,
  };
}

/** The same for a Cluster (its offline queue is a top-level option). */
export function limitsClusterOptions(extra: ClusterOptions = {}): ClusterOptions {
  const { enableOfflineQueue: _q, retryStrategy: _r, ...node } = limitsRedisOptions();
  return {
    enableOfflineQueue: false,
    clusterRetryStrategy: (times: number) => Math.min(times * 100, 1000),
    redisOptions: node,
    ...extra,
  };
}

/**
 * The limits store's own client: the same, with auto-pipelining — checks issued in one event-loop
 * turn go out as one write and come back as one read (fewer syscalls on both sides; under load
 * Redis answers a batch rather than a queue of single commands).
 */
export function limitsStoreClient(r: RuntimeConfig['limits']['redis']): Redis | Cluster {
  return r.cluster?.length
    ? redisClient(r, {}, { enableAutoPipelining: true })
    : redisClient(r, { enableAutoPipelining: true });
}

/** A client for the configured Redis (standalone or Cluster), failing fast rather than queueing. */
export function redisClient(
  r: RuntimeConfig['limits']['redis'],
  extra: RedisOptions = {},
  cluster: ClusterOptions = {},
): Redis | Cluster {
  return r.cluster?.length
    ? new (ioredis().Cluster)(
        r.cluster.map((n) => {
          const [host, port] = n.replace(/^redis:\/\//, '').split(':');
          return { host: host ?? '127.0.0.1', port: Number(port ?? 6379) };
        }),
        limitsClusterOptions({ redisOptions: { ...limitsClusterOptions().redisOptions, ...extra }, ...cluster }),
      )
    : new (ioredis().Redis)(r.url ?? 'redis://127.0.0.1:6379', limitsRedisOptions(extra));
}

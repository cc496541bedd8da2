// The options and state types of the Redis limits store; separate so redis-store.ts keeps to the store's logic.
import type { Cluster, Redis } from 'ioredis';

/** fail_open: allow, charge nothing. fail_closed: deny, reason `store_unavailable`. local: a per-instance MemoryStore. */
export type FailureMode = 'fail_open' | 'fail_closed' | 'local';
export type StoreState = 'healthy' | 'degraded';

export interface RedisStoreOptions {
  client: Redis | Cluster;
  /** Default 'tollgate:'. Must not contain braces. */
  prefix?: string;
  /** Health window in ms: no reply at all for this long (and an unanswered probe) = Redis is down. Default 500. */
  timeoutMs?: number;
  /** Default 'local'. */
  failureMode?: FailureMode;
  /** Default 250 ms. */
  probeIntervalMs?: number;
  /** One script per tag group (required on a Cluster). Default: true for a Cluster, false otherwise. */
  splitByTag?: boolean;
  onStateChange?: (state: StoreState, err?: Error) => void;
  onError?: (err: Error, op: string) => void;
  /** The store made the client: close() disconnects it (else it would reconnect forever). */
  ownsClient?: boolean;
  /** Tests only: use this clock instead of Redis TIME. */
  now?: () => number;
}

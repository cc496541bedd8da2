// The pin store the config asks for: the pin file, or Redis shared by every instance.
import type { Logger } from 'pino';
import type { PinsConfig, RuntimeConfig } from '../config/runtime.js';
import { ConfigError } from '../config/yaml.js';
import { redisClient } from '../limits/redis-client.js';
import { FilePinBackend } from './file-backend.js';
import { RedisPinBackend } from './redis-backend.js';
import { PinStore, type PinBackend } from './store.js';

/** How long a start waits for Redis to hand over the pins before giving up. */
const REDIS_START_WAIT_MS = 30_000;

/**
 * A Redis pin backend. Commands queue while connecting (a save waits for Redis rather than failing
 * at once; nothing on the hot path waits for it) and give up after a few seconds.
 */
export function redisPinBackend(r: RuntimeConfig['limits']['redis'], log: Logger, subscribe: boolean): RedisPinBackend {
  const extra = { enableOfflineQueue: true, commandTimeout: 5000 };
  return new RedisPinBackend({
    client: redisClient(r, extra),
    subscriber: subscribe ? redisClient(r, extra) : undefined,
    prefix: r.prefix,
    log,
  });
}

export async function openPinStore(
  pins: PinsConfig,
  redis: RuntimeConfig['limits']['redis'],
  log: Logger,
  startWaitMs = REDIS_START_WAIT_MS,
): Promise<PinStore> {
  if (pins.store === 'file') return PinStore.open(new FilePinBackend(pins.file, { watch: pins.watch, log }), log);
  const backend = redisPinBackend(redis, log, true);
  // Without the shared pins every tool would look new (and be pinned as it is now, a changed one
  // too): the start waits for Redis, and fails rather than run without them.
  const deadline = Date.now() + startWaitMs;
  for (;;) {
    try {
      return await PinStore.open(backend, log);
    } catch (err) {
      if (err instanceof ConfigError || Date.now() >= deadline) {
        await backend.close();
        throw err instanceof ConfigError ? err : new PinStoreUnavailable(backend, err as Error);
      }
      log.warn({ err: (err as Error).message }, 'pins: waiting for Redis (pins.store: redis)');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

export class PinStoreUnavailable extends Error {
  constructor(backend: PinBackend, cause: Error) {
    super(`cannot read the tool pins from ${backend.where} (pins.store: redis): ${cause.message}`);
    this.name = 'PinStoreUnavailable';
  }
}

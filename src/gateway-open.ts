// What a gateway is built from: its options and the stores `Gateway.open` opens from config; separate so gateway.ts keeps to assembly.
import type { Logger } from 'pino';
import type { RuntimeConfig } from './config/runtime.js';
import type { AuditRecorder } from './audit/step.js';
import { openConfiguredAudit, type OpenedAudit } from './audit/open.js';
import type { LimitStore } from './limits/store.js';
import { openLimitStore, type LimitStoreHooks } from './limits/open.js';
import { redisClient } from './limits/redis-client.js';
import { RedisSessionBus, type BusMessage, type SessionBus } from './mcp/session-bus.js';
import type { PinStore } from './pins/store.js';
import { openPinStore } from './pins/open.js';
import type { ApprovalStore } from './approvals/store.js';

export interface GatewayOptions {
  config: RuntimeConfig;
  /** The audit recorder; `Gateway.open` makes one from the config. */
  recorder?: AuditRecorder;
  /** The limits store; `Gateway.open` makes one from the config (default: in memory). */
  limitStore?: LimitStore;
  /** Other gateway instances (sessions.shared); `Gateway.open` makes it from the config. */
  sessionBus?: SessionBus | undefined;
  /** The pin file; `Gateway.open` opens it when pinning is on (without it nothing is pinned). */
  pinStore?: PinStore;
  /** Pending approvals (approvals.store); `Gateway.open` makes it from the config (default: in memory). */
  approvalStore?: ApprovalStore;
  /** Environment for stdio children (only main reads process.env; it passes it here). */
  env: Readonly<Record<string, string | undefined>>;
  logger?: Logger;
}

/** Opens the pin store, audit writer, limits store and session bus the config asks for. */
export async function openGatewayStores(
  config: RuntimeConfig,
  log: Logger,
  deliver: (m: BusMessage) => void,
): Promise<{
  pinStore: PinStore | undefined;
  audit: OpenedAudit;
  hooks: LimitStoreHooks;
  limitStore: LimitStore;
  sessionBus: SessionBus | undefined;
}> {
  // Pins first: with pins.store redis the start may wait for Redis and fail, and must then leave
  // nothing open (an open Redis client would keep a failed process alive instead of exiting).
  const p = config.pins;
  const pinStore = p ? await openPinStore(p, config.limits.redis, log) : undefined;
  const audit = await openConfiguredAudit(config, log).catch(async (err: unknown) => {
    await pinStore?.close();
    throw err;
  });
  const hooks: LimitStoreHooks = {};
  const limitStore = await openLimitStore(config.limits, log, hooks).catch(async (err: unknown) => {
    // Leave nothing open (the audit store's pool would keep a failed process alive).
    await audit.writer?.close();
    await audit.close();
    await pinStore?.close();
    throw err;
  });
  const r = config.limits.redis;
  const sessionBus = config.sessions.shared
    ? new RedisSessionBus(redisClient(r), redisClient(r, { enableOfflineQueue: true }), r.prefix, log, (m) =>
        deliver(m),
      )
    : undefined;
  return { pinStore, audit, hooks, limitStore, sessionBus };
}

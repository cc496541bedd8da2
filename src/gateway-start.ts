// Opening a gateway from config: the stores it records and counts in first, then the gateway, then
// what feeds back into it (peer messages, store errors, logins of removed users); separate so
// gateway.ts keeps to assembly.
import pino from 'pino';
import type { Relay } from './relay/relay.js';
import type { SessionStore } from './mcp/session-store.js';
import type { BusMessage } from './mcp/session-bus.js';
import type { GatewayMetrics } from './ops/metrics.js';
import type { OAuthServer } from './oauth/server.js';
import { AuditRecorder } from './audit/step.js';
import { openApprovalStore } from './approvals/open.js';
import { openGatewayStores, type GatewayOptions } from './gateway-open.js';
import { peerMessageDelivery } from './gateway-sessions.js';

/** The parts of a constructed gateway that the opened stores report back to. */
interface Opened {
  readonly sessions: SessionStore;
  readonly relay: Relay;
  readonly metrics: GatewayMetrics;
  readonly oauth: OAuthServer | undefined;
}

/** The gateway `construct` makes, with its audit log, limits store, pin file and session bus open. */
export async function openGateway<G extends Opened>(
  opts: GatewayOptions,
  construct: (opts: GatewayOptions) => G,
): Promise<G> {
  const log = opts.logger ?? pino({ level: opts.config.log.level });
  // The session bus is opened before the gateway whose sessions it delivers to exists.
  let deliver: (m: BusMessage) => void = () => undefined;
  const { pinStore, audit, hooks, limitStore, sessionBus } = await openGatewayStores(opts.config, log, (m) =>
    deliver(m),
  );
  const gw = construct({
    ...opts,
    logger: log,
    recorder: new AuditRecorder(audit.writer, opts.config.instanceId, audit),
    limitStore,
    sessionBus,
    pinStore,
    approvalStore: openApprovalStore(opts.config, log),
  });
  deliver = peerMessageDelivery(gw.sessions, gw.relay);
  hooks.onError = (op) => gw.metrics.limitsErrors.inc({ op });
  // Logins of local users no longer listed are ended before the first request (file and redis stores).
  await gw.oauth?.endLoginsOfUnlisted();
  return gw;
}

// Tool-definition pinning as the gateway wires it; separate so gateway.ts keeps to assembly.
import type { Logger } from 'pino';
import type { RuntimeConfig } from './config/runtime.js';
import type { Upstream } from './upstream/upstream.js';
import type { Relay } from './relay/relay.js';
import type { AuditRecorder } from './audit/step.js';
import type { PinStore } from './pins/store.js';
import { PinGuard } from './pins/guard.js';

/** The pin guard; undefined without a pin store (pinning off, and `tollgate check`, which must not pin). */
export function gatewayPinGuard(
  config: RuntimeConfig,
  store: PinStore | undefined,
  deps: {
    upstreams: readonly Upstream[];
    recorder: AuditRecorder;
    log: Logger;
    /** Read when a tool is judged: the relay is built after the guard. */
    relay: () => Relay;
  },
): PinGuard | undefined {
  return (
    store &&
    new PinGuard({
      store,
      upstreams: deps.upstreams,
      recorder: deps.recorder,
      log: deps.log,
      autoPinNew: config.pins?.autoPinNew ?? true,
      canonical: (server, tool) => deps.relay().canonical(server, 'tool', tool),
      toolsChanged: (u) => deps.relay().fanout.catalogChanged(u, ['tools']),
    })
  );
}

// The gateway's upstream MCP servers and where their events go; separate so gateway.ts keeps to assembly.
import type { Logger } from 'pino';
import type { RuntimeConfig } from './config/runtime.js';
import { Upstream, type UpstreamListener } from './upstream/upstream.js';
import type { Fanout } from './relay/fanout.js';
import type { PinGuard } from './pins/guard.js';
import type { Credentials } from './credentials/credentials.js';
import { VERSION } from './version.js';

/** Upstream events go to the relay's fanout (both read when an event comes: they are built after the upstreams). */
export function upstreamListener(pins: () => PinGuard | undefined, fanout: () => Fanout): UpstreamListener {
  return {
    catalogChanged: (...a: Parameters<UpstreamListener['catalogChanged']>) => {
      // Judge the new tools (audit, pending changes) before agents are told to list them.
      if (a[1].includes('tools')) pins()?.held(a[0]);
      fanout().catalogChanged(...a);
    },
    serverMessage: (...a: Parameters<UpstreamListener['serverMessage']>) => fanout().serverMessage(...a),
    reattached: (...a: Parameters<UpstreamListener['reattached']>) => fanout().reattached(...a),
  };
}

/** One Upstream per configured server, each with its users' credentials (when it has auth). */
export function gatewayUpstreams(
  config: RuntimeConfig,
  deps: {
    log: Logger;
    env: Readonly<Record<string, string | undefined>>;
    listener: UpstreamListener;
    credentials: Credentials;
  },
): Upstream[] {
  return config.upstreams.map(
    (cfg) =>
      new Upstream(cfg, {
        log: deps.log,
        env: deps.env,
        clientInfo: { name: 'tollgate', version: VERSION },
        listener: deps.listener,
        sharedSessions: config.sessions.shared,
        credentials: deps.credentials.forUpstream(cfg.name),
      }),
  );
}

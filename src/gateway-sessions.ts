// The gateway's MCP sessions: the store (sealed ids, caps) and messages from other instances (sessions.shared);
// separate so gateway.ts keeps to assembly.
import type { StreamBounds, StreamPressure } from './mcp/stream-bounds.js';
import type { Logger } from 'pino';
import type { GatewayMetrics } from './ops/metrics.js';
import type { RuntimeConfig } from './config/runtime.js';
import { SessionStore, type SessionStoreOptions } from './mcp/session-store.js';
import { SessionSealer } from './mcp/session-seal.js';
import { applyPeerMessage, type BusMessage, type SessionBus } from './mcp/session-bus.js';
import { ConnectionCap } from './mcp/connection-cap.js';
import type { Relay } from './relay/relay.js';

/** The session store the config asks for; `onEnd` releases an ended session's upstream sessions. */
export function gatewaySessionStore(
  config: RuntimeConfig,
  bus: SessionBus | undefined,
  onEnd: SessionStoreOptions['onEnd'],
  streamBounds?: StreamBounds,
): SessionStore {
  const sc = config.sessions;
  const srv = config.server;
  return new SessionStore({
    idleMs: srv.sessionIdleTimeoutMs,
    maxAgeMs: sc.maxAgeMs,
    replayEvents: srv.sseReplayEvents,
    streamBounds,
    serverRequestLimits: config.mcp.serverRequests,
    sealer: sc.sealKeys.length
      ? new SessionSealer(
          sc.sealKeys.map((k) => Buffer.from(k, 'base64')),
          sc.maxAgeMs,
        )
      : SessionSealer.ephemeral(sc.maxAgeMs),
    bus,
    cap: new ConnectionCap('sessions', srv.maxSessions, srv.maxSessionsPerAgent),
    onEnd,
  });
}

/**
 * Where messages from other instances go (see applyPeerMessage): an agent's answer to a server
 * request this instance made reaches the relay.
 */
export function peerMessageDelivery(sessions: SessionStore, relay: Relay): (m: BusMessage) => void {
  return (m) =>
    applyPeerMessage(m, sessions, (session, answer) => {
      const view = relay.view(session.viewKey);
      if (view) void relay.handleResponse(relay.scopeFor(session.identity, session, view), answer);
    });
}

/**
 * Who hears of agents' SSE streams falling behind: the metrics, and the log (once per stream for
 * dropped notifications, each time a stream is closed).
 */
export function streamPressure(metrics: GatewayMetrics, log: Logger): StreamPressure {
  return {
    dropped(streamId, first) {
      metrics.sseEventsDropped.inc();
      if (first)
        log.warn({ stream: streamId }, 'agent SSE stream is behind: dropping its log and progress notifications');
    },
    overflowed(streamId, method) {
      metrics.sseStreamsOverflowed.inc();
      log.warn({ stream: streamId, method }, 'agent SSE stream fell too far behind: closed');
    },
  };
}

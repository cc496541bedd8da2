// The first half of a graceful stop: no new connections, calls in flight finish (up to a deadline),
// then sessions end; separate so gateway.ts keeps to assembly (Gateway.close then closes each part).
import type { ServerType } from '@hono/node-server';
import type { ApprovalService } from './approvals/service.js';
import type { Relay } from './relay/relay.js';
import type { SessionStore } from './mcp/session-store.js';
import { drainConnections } from './gateway-server.js';

/** Resolves once the server is closed: SSE streams end with a retry hint, so clients reconnect elsewhere. */
export async function drainGateway(
  server: ServerType | undefined,
  parts: {
    approvals: Pick<ApprovalService, 'close'>;
    relay: Pick<Relay, 'inFlight' | 'closeStateless'>;
    sessions: Pick<SessionStore, 'close'>;
  },
  drainMs: number,
): Promise<void> {
  const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
  const deadline = Date.now() + drainMs;
  // Calls held for an approval would hold the drain: they are refused (void) first.
  await parts.approvals.close();
  while (parts.relay.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  parts.relay.closeStateless();
  parts.sessions.close();
  await drainConnections(server);
  await closed;
}

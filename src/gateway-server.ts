// The gateway's HTTP server: creating it, listening, logging failed accepts, draining connections; separate so gateway.ts keeps to assembly.
import { createServer, type RequestListener } from 'node:http';
import { getRequestListener, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { slowClientLimits, answerClientError, unparseableRequest } from './http/client-errors.js';

/** Open connections after closing the idle ones (a connection that finished its response is idle). */
function openConnections(server: ServerType): Promise<number> {
  (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
  return new Promise((resolve) => server.getConnections((_err, n) => resolve(n)));
}

/**
 * Our own http.Server (not `serve`): requests the adapter cannot turn into a Request (a Host
 * it cannot parse, a malformed path) still get a JSON-RPC answer through errorHandler.
 */
export function createGatewayServer(
  fetch: Parameters<typeof getRequestListener>[0],
  host: string,
  timeouts: { headersTimeoutMs: number; requestTimeoutMs: number },
  /** A lane in front of the app for requests it serves itself (the /mcp fast lane), else the app. */
  inFront?: (app: RequestListener) => RequestListener,
): ServerType {
  const app = getRequestListener(fetch, { hostname: host, errorHandler: unparseableRequest });
  const limits = slowClientLimits(timeouts.headersTimeoutMs, timeouts.requestTimeoutMs);
  return createServer({ ...limits, requireHostHeader: false }, inFront ? inFront(app) : app);
}

/** Listens on port/host; resolves once listening. */
export function listenOn(
  server: ServerType,
  port: number,
  host: string,
  acceptFailed: (err: Error) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.on('clientError', answerClientError);
    server.listen(port, host, () => {
      // Once listening, a server 'error' is a failed accept (EMFILE when descriptors run out):
      // the connection is lost, never the gateway (an unheard 'error' event would end the process).
      server.off('error', reject);
      server.on('error', (err) => acceptFailed(err));
      resolve();
    });
  });
}

/** The URL and port a listening server is reached at (a wildcard host shows as 127.0.0.1). */
export function listenedAt(server: ServerType, host: string): { url: string; port: number } {
  const addr = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return { url: `http://${shownHost}:${addr.port}`, port: addr.port };
}

/** Logs failed accepts at most every 10 s (under EMFILE they come by the thousand). */
export class AcceptFailureLog {
  private acceptFailures = 0;
  private acceptWarnedAt = 0;

  constructor(private readonly log: Logger) {}

  failed(err: Error): void {
    this.acceptFailures++;
    const now = Date.now();
    if (now - this.acceptWarnedAt < 10_000) return;
    this.acceptWarnedAt = now;
    this.log.warn(
      { err: err.message, failures: this.acceptFailures },
      'cannot accept connections (out of file descriptors?); raise `ulimit -n` or cap connections in front',
    );
  }
}

/**
 * Streams just ended with a last frame (listen results, retry hints): let those connections
 * finish writing (bounded) before the rest are cut.
 */
export async function drainConnections(server: ServerType | undefined): Promise<void> {
  const quietBy = Date.now() + 500;
  while (server && Date.now() < quietBy && (await openConnections(server)) > 0)
    await new Promise((r) => setTimeout(r, 10));
  (server as { closeAllConnections?: () => void } | undefined)?.closeAllConnections?.();
}

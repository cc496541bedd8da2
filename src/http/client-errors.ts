// Requests Node's HTTP parser refuses (bad headers, header overflow, timeouts) never reach Hono.
// They still get an answer in the protocol's shape: a status and a JSON-RPC error body.
import type { Socket } from 'node:net';
import { errorMessage } from '../mcp/jsonrpc.js';

/**
 * Server options that bound slow clients: headers within `server.headers_timeout` (10 s), the whole
 * request within `server.request_timeout` (30 s), checked every second (Node's default checks every
 * 30 s, so a stalled request could live 30 s past its bound).
 */
export function slowClientLimits(headersTimeoutMs: number, requestTimeoutMs: number) {
  return { headersTimeout: headersTimeoutMs, requestTimeout: requestTimeoutMs, connectionsCheckingInterval: 1_000 };
}

/**
 * How long an answered connection may linger before it is destroyed. Ending a socket only
 * half-closes it (the HTTP server allows half-open sockets): a client that never reads nor closes
 * would keep the descriptor for ever (1 000 such sockets were seen held 90 s+). A second lets a
 * real client read the answer.
 */
export const ANSWERED_LINGER_MS = 1_000;

export function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable || (socket as Socket & { _httpMessage?: unknown })._httpMessage) {
    socket.destroy();
    return;
  }
  const [status, reason] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout']
        : [400, 'Bad Request'];
  const body = JSON.stringify(
    errorMessage(null, { code: -32600, message: `${reason}: the request could not be parsed as HTTP` }),
  );
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), ANSWERED_LINGER_MS).unref();
}

/** For requests the adapter could not build (unparseable Host or path): 400 with a JSON-RPC body. */
export function unparseableRequest(): Response {
  const body = JSON.stringify(
    errorMessage(null, { code: -32600, message: 'Bad Request: the request URL or Host header is not valid' }),
  );
  return new Response(body, { status: 400, headers: { 'content-type': 'application/json' } });
}

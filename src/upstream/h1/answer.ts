// What one exchange on an upstream connection answers, and how it fails: the response (gathered
// whole or streamed), and the errors that tell a body cut short from a connection lost before its
// head. Separate so connection.ts keeps to reading the socket.
import { MalformedResponse } from './response-head.js';
import type { StreamedBody } from './streamed-body.js';

export interface H1Response {
  statusCode: number;
  headers: Record<string, string | string[]>;
  /** The whole body, when its Content-Length was within the exchange's `fullBytes` (no stream made). */
  full: Buffer | undefined;
  /** Otherwise the body as it arrives (chunked, read to the close, or longer than `fullBytes`). */
  body: StreamedBody | undefined;
}

export type ResponseCallback = (err: Error | undefined, res?: H1Response) => void;

/** The response's body broke off (the connection closed or failed before its end). */
export class IncompleteBody extends Error {
  readonly code = 'TOLLGATE_BODY_INCOMPLETE';
}

/** The connection closed or failed before the response's head arrived. */
export class ConnectionLost extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * A failure before the head, on a connection once made: the request may have reached the upstream,
 * whatever the socket's own code says (Linux reports an ICMP error met while retransmitting as
 * EHOSTUNREACH on an established connection, a code http-failures.ts reads as "never connected", so
 * safe to send again). Only our own errors keep their codes.
 */
export function asLost(err: Error): Error {
  return err instanceof MalformedResponse || err instanceof ConnectionLost || err.name === 'AbortError'
    ? err
    : new ConnectionLost(err.message, 'TOLLGATE_UPSTREAM_CLOSED');
}

export function incomplete(err: Error): IncompleteBody {
  return new IncompleteBody(err.message);
}

// Why a POST to a Streamable HTTP upstream failed, as the channel's errors: whether the upstream
// certainly never saw it (safe to send to another replica), or answered with something that is no
// HTTP answer at all (its fault, not an outage). Separate so http-channel.ts keeps to the exchange.
import { BadResponseError, ChannelError } from './channel.js';
import { IncompleteBody } from './h1/connection.js';
import { MalformedResponse } from './h1/response-head.js';

/** Errors raised before a connection existed: the request was never sent. */
const NOT_CONNECTED = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'TOLLGATE_CONNECT_TIMEOUT',
]);

/** Why a request could not be made: `undelivered` when no connection existed (safe to retry). */
export function unreachable(err: unknown): ChannelError {
  // What our HTTP/1.1 client read was no answer: the upstream's fault, not an outage.
  if (err instanceof MalformedResponse) return new BadResponseError(err.message);
  if (err instanceof IncompleteBody) return new BadResponseError(`upstream response body incomplete: ${err.message}`);
  return new ChannelError(
    `cannot reach upstream: ${(err as Error).message}`,
    false,
    NOT_CONNECTED.has((err as { code?: string }).code ?? ''),
  );
}

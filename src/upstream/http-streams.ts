// The SSE side of a Streamable HTTP upstream: a POST answered as a stream (resumed with
// Last-Event-ID when the server closes it early) and the standalone GET stream of unsolicited
// messages (reconnected with backoff). What they need of their channel is the StreamHost.
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { JsonRpcMessage, RequestId } from '../mcp/jsonrpc.js';
import type { ChannelEvents, RequestAbort } from './channel.js';
import { SseEventTooLarge, readSse } from './sse-reader.js';

export interface StreamHost {
  readonly name: string;
  readonly log: Logger;
  readonly maxResponseBytes: number;
  readonly events: ChannelEvents | undefined;
  readonly closed: boolean;
  /** The upstream's session id, once it gave one. */
  readonly sessionId: string | undefined;
  /** A GET on the MCP endpoint with the session's headers (and the user's credentials) plus `extra`. */
  get(extra: Record<string, string>, signal?: AbortSignal): Promise<Dispatcher.ResponseData>;
  /** Why a message over the cap is refused. */
  tooLargeMessage(): string;
}

/** A POST's SSE answer: its messages delivered; an error answer when it ends without one. */
export async function consumePostStream(
  host: StreamHost,
  body: AsyncIterable<Buffer>,
  requestId: RequestId | undefined,
  abort?: RequestAbort,
): Promise<void> {
  let lastEventId: string | undefined;
  let answered = false;
  /** Why the answer is unusable, when the stream showed why. */
  let broken: string | undefined;
  const onMessage = (msg: JsonRpcMessage, id: string | undefined): void => {
    if (id) lastEventId = id;
    if (!('method' in msg) && msg.id === requestId) answered = true;
    host.events?.message(msg, requestId);
  };
  const invalid = (r: string): void => {
    broken = `upstream sent an invalid message (${r})`;
    host.log.warn({ upstream: host.name, reason: r }, 'bad SSE message');
  };
  try {
    await readSse(body, { message: onMessage, invalid }, host.maxResponseBytes);
  } catch (err) {
    // Over the cap: the stream was cut, and resuming would only send the same event again.
    if (err instanceof SseEventTooLarge) broken = host.tooLargeMessage();
    /* else stream broken: resume below */
  }
  // The server may close a POST stream early and let us resume it with Last-Event-ID.
  for (
    let attempt = 0;
    !answered && !broken && lastEventId && attempt < 3 && !host.closed && !abort?.aborted;
    attempt++
  ) {
    try {
      const res = await host.get({ accept: 'text/event-stream', 'last-event-id': lastEventId });
      if (res.statusCode !== 200) {
        await res.body.dump();
        break;
      }
      await readSse(res.body, { message: onMessage, invalid }, host.maxResponseBytes);
    } catch {
      /* try again */
    }
  }
  if (!answered && requestId !== undefined && !host.closed && !abort?.aborted) {
    host.events?.message(
      {
        jsonrpc: '2.0',
        id: requestId,
        error: { code: -32052, message: broken ?? 'upstream closed the stream before answering' },
      },
      requestId,
    );
  }
}

/** The standalone GET stream: unsolicited notifications and requests. Reconnects with backoff. */
export async function listenGetStream(host: StreamHost, signal: AbortSignal): Promise<void> {
  let delay = 500;
  let lastEventId: string | undefined;
  while (!host.closed) {
    try {
      const res = await host.get(
        lastEventId ? { accept: 'text/event-stream', 'last-event-id': lastEventId } : { accept: 'text/event-stream' },
        signal,
      );
      if (res.statusCode === 405) return void (await res.body.dump()); // server offers no GET stream
      if (res.statusCode === 404 && host.sessionId) {
        await res.body.dump();
        host.events?.closed('upstream session expired (404 on GET)');
        return;
      }
      if (res.statusCode !== 200 || !String(res.headers['content-type'] ?? '').includes('text/event-stream')) {
        await res.body.dump();
      } else {
        delay = 500;
        await readSse(
          res.body,
          {
            message: (msg, id) => {
              if (id) lastEventId = id;
              host.events?.message(msg, undefined);
            },
          },
          host.maxResponseBytes,
        );
      }
    } catch {
      /* reconnect */
    }
    if (host.closed) return;
    await new Promise((r) => setTimeout(r, delay).unref());
    delay = Math.min(delay * 2, 30_000);
  }
}

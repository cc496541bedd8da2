// How a Streamable HTTP channel POSTs its messages: on plain http through our own HTTP/1.1 client
// (h1/pool.ts: the hot path, a fifth less CPU per call than undici), on https through undici.
// Either way the answer comes in one shape: a body gathered whole, or a stream.
import type { Pool } from 'undici';
import type { HttpUpstreamConfig } from '../config/runtime.js';
import type { RequestAbort } from './channel.js';
import { H1Pool } from './h1/pool.js';

/** A streamed answer body: undici's, or h1's StreamedBody. */
export type AnswerBody = NodeJS.ReadableStream &
  AsyncIterable<Buffer> & {
    dump(): Promise<void>;
    destroy(): void;
  };

export interface PostAnswer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  /** The whole body, when it came whole (a Content-Length within max_response_bytes, over h1). */
  full: Buffer | undefined;
  /** Otherwise the body as it arrives. */
  body: AnswerBody | undefined;
}

export type PostCallback = (err: Error | null | undefined, res?: PostAnswer) => void;

export interface PostTransport {
  /** `extra` on top of `headers` (the channel's own, the same object while they do not change). */
  post(
    path: string,
    headers: Readonly<Record<string, string>>,
    extra: Readonly<Record<string, string>> | undefined,
    body: string,
    abort: RequestAbort | undefined,
    done: PostCallback,
  ): void;
  close(graceMs: number): Promise<void>;
}

/** How long an idle keep-alive connection is kept (as the undici pool's keepAliveTimeout). */
const IDLE_MS = 30_000;

export function postTransport(url: URL, cfg: HttpUpstreamConfig, undici: Pool): PostTransport {
  if (url.protocol === 'http:') {
    const pool = new H1Pool({
      origin: url.origin,
      connections: cfg.connections,
      connectTimeoutMs: cfg.timeouts.connectMs,
      idleMs: IDLE_MS,
    });
    return {
      // H1Response is a PostAnswer: the callback takes it as it is (no object per call).
      post: (path, headers, extra, body, abort, done) =>
        pool.request(
          { method: 'POST', path, headers, extra, body, fullBytes: cfg.maxResponseBytes, signal: abort },
          done,
        ),
      close: (graceMs) => pool.close(graceMs),
    };
  }
  return {
    post: (path, headers, extra, body, abort, done) =>
      undici.request(
        { method: 'POST', path, headers: extra ? { ...headers, ...extra } : headers, body, signal: abort },
        (err, res) =>
          err
            ? done(err)
            : done(undefined, { statusCode: res.statusCode, headers: res.headers, full: undefined, body: res.body }),
      ),
    // The undici pool is the channel's own: it closes it.
    close: async () => undefined,
  };
}

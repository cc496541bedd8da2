// Streamable HTTP (2025-03-26+) client: POSTs through post-transport.ts (our HTTP/1.1 client on
// plain http, undici on https), the GET stream and DELETE on an undici keep-alive Pool (global
// fetch costs 2.6× more per request here). Messages on a POST's SSE stream are attributed to that
// POST's request.
import { Readable } from 'node:stream';
import { Pool } from 'undici';
import type { Logger } from 'pino';
import { isRequest, type JsonRpcMessage, type RequestId } from '../mcp/jsonrpc.js';
import { deliverJsonAnswer } from './json-answer.js';
import { BadResponseError, ChannelError, type Channel, type ChannelEvents, type RequestAbort } from './channel.js';
import { consumePostStream, listenGetStream, type StreamHost } from './http-streams.js';
import { readCapped } from '../http/node-io.js';
import { GatewayError } from '../errors.js';
import type { HttpUpstreamConfig } from '../config/runtime.js';
import type { ChannelAuth } from './channel-auth.js';
import { ChannelSecrets, quoteWithout, scrubbingEchoes, sentSecrets } from './sent-secrets.js';
import { postTransport, type AnswerBody, type PostAnswer, type PostTransport } from './post-transport.js';
import { unreachable } from './http-failures.js';

const nothing = (): void => undefined;

/** `base` with `extra` on top, whatever the case of the names (a user's token replaces the operator's). */
function overriding(base: Record<string, string>, extra: Record<string, string>): Record<string, string> {
  const names = new Set(Object.keys(extra).map((k) => k.toLowerCase()));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (!names.has(k.toLowerCase())) out[k] = v;
  return Object.assign(out, extra);
}

/** A POST's answer, and the user's credentials it was sent with (to cut them from what we quote). */
type Answer = PostAnswer & { sent?: Record<string, string> };

export class HttpChannel implements Channel {
  private readonly pool: Pool;
  private readonly poster: PostTransport;
  private readonly path: string;
  private readonly baseHeaders: Record<string, string>;
  /** Our credentials (headers, URL query, a user's recent tokens), cut out of upstream text we repeat. */
  private readonly secrets: ChannelSecrets;
  private events: ChannelEvents | undefined;
  private sessionId: string | undefined;
  private protocolVersion: string | undefined;
  private readonly getStream = new AbortController();
  private closed = false;
  readonly describe: string;

  constructor(
    private readonly cfg: HttpUpstreamConfig,
    private readonly log: Logger,
    extraHeaders: Readonly<Record<string, string>> = {},
    /** One replica of the upstream; default its first. */
    replicaUrl: string = cfg.url,
    /** Per-user credentials: headers asked for on every request; a 401 refreshes them once. */
    private readonly auth?: ChannelAuth,
  ) {
    const url = new URL(replicaUrl);
    this.path = url.pathname + url.search;
    this.pool = new Pool(url.origin, {
      connections: cfg.connections,
      pipelining: 1,
      connect: { timeout: cfg.timeouts.connectMs },
      headersTimeout: 0, // deadlines are the session's: they stretch with progress
      bodyTimeout: 0,
      keepAliveTimeout: 30_000,
    });
    this.poster = postTransport(url, cfg, this.pool);
    this.baseHeaders = {
      ...cfg.headers,
      ...extraHeaders,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    this.describe = `http:${url.origin}${url.pathname}`;
    this.secrets = new ChannelSecrets(sentSecrets([cfg.headers, extraHeaders], url));
  }

  /** The start of an upstream's answer, for an error message: without what we sent it. */
  private quote(text: string, sent: Readonly<Record<string, string>> | undefined): string {
    return quoteWithout(text, 200, this.secrets.including(sent));
  }

  private readonly deliver = (msg: JsonRpcMessage, related: RequestId | undefined): void =>
    this.events?.message(msg, related);

  /** What the SSE readers (http-streams.ts) need of this channel. */
  private readonly streams: StreamHost = (() => {
    const self = this;
    return {
      get name() {
        return self.cfg.name;
      },
      get log() {
        return self.log;
      },
      get maxResponseBytes() {
        return self.cfg.maxResponseBytes;
      },
      get events() {
        return self.events;
      },
      get closed() {
        return self.closed;
      },
      get sessionId() {
        return self.sessionId;
      },
      get: async (extra, signal) =>
        self.pool.request({
          method: 'GET',
          path: self.path,
          headers: await self.withAuth(self.headers(extra)),
          signal,
        }),
      tooLargeMessage: () => self.tooLarge().message,
    };
  })();

  open(events: ChannelEvents): Promise<void> {
    // Nothing to cut (no headers, query or user token): messages go straight through.
    this.events =
      this.auth || this.secrets.fixed.length > 0 ? scrubbingEchoes(events, () => this.secrets.all()) : events;
    return Promise.resolve();
  }

  /** POST headers, built once per session state rather than per request. */
  private postHeaders: Record<string, string> | undefined;

  private headers(extra?: Record<string, string>): Record<string, string> {
    if (!extra && this.postHeaders) return this.postHeaders;
    const h: Record<string, string> = { ...this.baseHeaders, ...extra };
    if (this.sessionId) h['mcp-session-id'] = this.sessionId;
    if (this.protocolVersion) h['mcp-protocol-version'] = this.protocolVersion;
    if (!extra && this.protocolVersion) this.postHeaders = h;
    return h;
  }

  readonly abortable = true;

  send(msg: JsonRpcMessage, headers?: Readonly<Record<string, string>>, abort?: RequestAbort): Promise<void> {
    if (this.closed) return Promise.reject(new ChannelError('channel closed', true));
    const body = JSON.stringify(msg);
    if (this.auth) return this.sendWithAuth(msg, body, headers, abort);
    // The common case as one promise: undici's callback form and the answer's handling in it (an
    // async chain here was ~9 promises and their microtask turns per call: docs/benchmark-history.md, session 8).
    return new Promise((resolve, reject) => {
      this.poster.post(this.path, this.headers(), headers, body, abort, (err, res) => {
        if (err || !res) return reject(unreachable(err));
        try {
          resolve(this.received(msg, res, abort));
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  /** Per-user credentials: a 401 refreshes them and sends once more. */
  private async sendWithAuth(
    msg: JsonRpcMessage,
    body: string,
    headers: Readonly<Record<string, string>> | undefined,
    abort: RequestAbort | undefined,
  ): Promise<void> {
    let res = await this.post(body, headers, abort);
    if (res.statusCode === 401 && res.sent) {
      // The user's token was refused (expired, revoked upstream): refresh once and send again.
      await res.body?.dump();
      await this.auth?.rejected(res.sent);
      res = await this.post(body, headers, abort);
      if (res.statusCode === 401 && res.sent) {
        await res.body?.dump();
        await this.auth?.rejected(res.sent);
        throw new ChannelError('upstream refused the refreshed credentials (HTTP 401)');
      }
    }
    return this.received(msg, res, abort);
  }

  /**
   * A POST's answer: its message(s) delivered, or why there is none. An answer that came whole is
   * handled at once (returns, or throws); a streamed one settles when its body is read.
   */
  private received(msg: JsonRpcMessage, res: Answer, abort: RequestAbort | undefined): void | Promise<void> {
    const requestId = isRequest(msg) ? msg.id : undefined;
    const sid = res.headers['mcp-session-id'];
    if (typeof sid === 'string' && !this.sessionId && 'method' in msg && msg.method === 'initialize') {
      this.sessionId = sid;
    }
    const type = String(res.headers['content-type'] ?? '');
    const { full, body } = res;
    if (res.statusCode === 404 && this.sessionId) {
      const expired = (): never => {
        this.events?.closed('upstream session expired (404)');
        throw new ChannelError('upstream session expired', true);
      };
      return body ? body.dump().then(expired) : expired();
    }
    if (res.statusCode === 202 || (res.statusCode === 200 && !type)) return body?.dump().then(nothing);
    if (type.includes('text/event-stream') && res.statusCode === 200) {
      void consumePostStream(this.streams, body ?? Readable.from([full ?? Buffer.alloc(0)]), requestId, abort);
      return;
    }
    if (full) return this.answered(res, type, requestId, full.toString('utf8'));
    const streamed = body as AnswerBody;
    return readCapped(streamed, this.cfg.maxResponseBytes).then(
      (text) => this.answered(res, type, requestId, text),
      (err: unknown) => {
        throw this.bodyError(streamed, err);
      },
    );
  }

  /** A POST's body, read: its JSON-RPC message(s) delivered, or why it has none. */
  private answered(res: Answer, type: string, requestId: RequestId | undefined, text: string): void {
    if (type.includes('json') && deliverJsonAnswer(text, requestId, this.deliver)) return;
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    // A success status with a body that is no JSON-RPC message is a broken answer, not an outage.
    if (ok)
      throw new BadResponseError(
        `upstream answered invalid JSON-RPC (HTTP ${res.statusCode}, ${type || 'no content-type'}): ${this.quote(text, res.sent)}`,
      );
    throw new ChannelError(`upstream answered HTTP ${res.statusCode}: ${this.quote(text, res.sent)}`);
  }

  /** The POST headers, with the call's own (trace context, identity) on top. */
  private postHeadersWith(headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
    return headers ? { ...this.headers(), ...headers } : this.headers();
  }

  /** One POST, with the user's credentials when the upstream has per-user auth. */
  private async post(
    body: string,
    headers: Readonly<Record<string, string>> | undefined,
    abort: RequestAbort | undefined,
  ): Promise<Answer> {
    const sent = this.auth ? this.secrets.remember(await this.auth.headers()) : undefined;
    let h = this.postHeadersWith(headers);
    if (sent) h = overriding(h, sent);
    return new Promise((resolve, reject) =>
      this.poster.post(this.path, h, undefined, body, abort, (err, res) =>
        err || !res ? reject(unreachable(err)) : resolve(sent ? { ...res, sent } : res),
      ),
    );
  }

  /** Headers for GET and DELETE: the session's, and the user's credentials (none when they are gone). */
  private async withAuth(h: Record<string, string>): Promise<Record<string, string>> {
    return this.auth ? overriding(h, this.secrets.remember(await this.auth.headers())) : h;
  }

  private tooLarge(): BadResponseError {
    return new BadResponseError(
      `upstream response exceeds ${this.cfg.maxResponseBytes} bytes (upstreams.${this.cfg.name}.max_response_bytes)`,
    );
  }

  /** Why a body could not be read (its connection is let go). */
  private bodyError(body: AnswerBody, err: unknown): Error {
    body.destroy();
    if (err instanceof GatewayError && err.kind === 'payload_too_large') return this.tooLarge();
    // Not the cap: the body broke off (shorter than its Content-Length, connection reset).
    return new BadResponseError(`upstream response body incomplete: ${(err as Error).message}`);
  }

  initialized(info: { sessionId?: string | undefined; protocolVersion: string; stateless?: boolean }): void {
    if (info.sessionId) this.sessionId = info.sessionId;
    this.protocolVersion = info.protocolVersion;
    this.postHeaders = undefined;
    if (!info.stateless) void listenGetStream(this.streams, this.getStream.signal);
  }

  get upstreamSessionId(): string | undefined {
    return this.sessionId;
  }

  async close(opts: { endSession?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.getStream.abort();
    if (this.sessionId && opts.endSession !== false) {
      try {
        const res = await this.pool.request({
          method: 'DELETE',
          path: this.path,
          headers: await this.withAuth(this.headers()),
          signal: AbortSignal.timeout(1000),
        });
        await res.body.dump();
      } catch {
        /* best effort: the upstream will expire the session */
      }
    }
    // Requests still running (a stuck upstream) must not hold the shutdown.
    const grace = setTimeout(() => void this.pool.destroy(), 1000);
    await Promise.all([this.pool.close().catch(() => this.pool.destroy()), this.poster.close(1000)]);
    clearTimeout(grace);
  }
}

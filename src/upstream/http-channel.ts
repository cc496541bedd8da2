// Streamable HTTP (2025-03-26+) client on an undici keep-alive Pool: global fetch costs 2.6× more
// per request here. Messages on a POST's SSE stream are attributed to that POST's request.
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { isRequest, validateMessage, type JsonRpcMessage, type RequestId } from '../mcp/jsonrpc.js';
import { UPSTREAM_JSON, parseBounded } from '../mcp/json-shape.js';
import { BadResponseError, ChannelError, type Channel, type ChannelEvents, type RequestAbort } from './channel.js';
import { SseEventTooLarge, readSse } from './sse-reader.js';
import { readCapped } from '../http/node-io.js';
import { GatewayError } from '../errors.js';
import type { HttpUpstreamConfig } from '../config/runtime.js';
import type { ChannelAuth } from './channel-auth.js';

/** Errors raised before a connection existed: the request was never sent. */
const NOT_CONNECTED = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** `base` with `extra` on top, whatever the case of the names (a user's token replaces the operator's). */
function overriding(base: Record<string, string>, extra: Record<string, string>): Record<string, string> {
  const names = new Set(Object.keys(extra).map((k) => k.toLowerCase()));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (!names.has(k.toLowerCase())) out[k] = v;
  return Object.assign(out, extra);
}

export class HttpChannel implements Channel {
  private readonly pool: Pool;
  private readonly path: string;
  private readonly baseHeaders: Record<string, string>;
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
    this.baseHeaders = {
      ...cfg.headers,
      ...extraHeaders,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    this.describe = `http:${url.origin}${url.pathname}`;
  }

  open(events: ChannelEvents): Promise<void> {
    this.events = events;
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

  async send(msg: JsonRpcMessage, headers?: Readonly<Record<string, string>>, abort?: RequestAbort): Promise<void> {
    if (this.closed) throw new ChannelError('channel closed', true);
    const requestId = isRequest(msg) ? msg.id : undefined;
    const body = JSON.stringify(msg);
    let res = await this.post(body, headers, abort);
    if (res.statusCode === 401 && this.auth && res.sent) {
      // The user's token was refused (expired, revoked upstream): refresh once and send again.
      await res.body.dump();
      await this.auth.rejected(res.sent);
      res = await this.post(body, headers, abort);
      if (res.statusCode === 401 && res.sent) {
        await res.body.dump();
        await this.auth.rejected(res.sent);
        throw new ChannelError('upstream refused the refreshed credentials (HTTP 401)');
      }
    }
    const sid = res.headers['mcp-session-id'];
    if (typeof sid === 'string' && !this.sessionId && 'method' in msg && msg.method === 'initialize') {
      this.sessionId = sid;
    }
    const type = String(res.headers['content-type'] ?? '');
    if (res.statusCode === 404 && this.sessionId) {
      await res.body.dump();
      this.events?.closed('upstream session expired (404)');
      throw new ChannelError('upstream session expired', true);
    }
    if (res.statusCode === 202 || (res.statusCode === 200 && !type)) {
      await res.body.dump();
      return;
    }
    if (type.includes('text/event-stream') && res.statusCode === 200) {
      void this.consumeStream(res.body, requestId, abort);
      return;
    }
    const text = await this.readBody(res.body);
    if (type.includes('json') && this.deliverJson(text, requestId)) return;
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    // A success status with a body that is no JSON-RPC message is a broken answer, not an outage.
    if (ok)
      throw new BadResponseError(
        `upstream answered invalid JSON-RPC (HTTP ${res.statusCode}, ${type || 'no content-type'}): ${text.slice(0, 200)}`,
      );
    throw new ChannelError(`upstream answered HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
  }

  /** One POST, with the user's credentials when the upstream has per-user auth. */
  private async post(
    body: string,
    headers: Readonly<Record<string, string>> | undefined,
    abort: RequestAbort | undefined,
  ): Promise<Dispatcher.ResponseData & { sent?: Record<string, string> }> {
    const sent = this.auth ? await this.auth.headers() : undefined;
    let h = headers ? { ...this.headers(), ...headers } : this.headers();
    if (sent) h = overriding(h, sent);
    try {
      const res = await this.pool.request({ method: 'POST', path: this.path, headers: h, body, signal: abort });
      return sent ? Object.assign(res, { sent }) : res;
    } catch (err) {
      throw new ChannelError(
        `cannot reach upstream: ${(err as Error).message}`,
        false,
        NOT_CONNECTED.has((err as { code?: string }).code ?? ''),
      );
    }
  }

  /** Headers for GET and DELETE: the session's, and the user's credentials (none when they are gone). */
  private async withAuth(h: Record<string, string>): Promise<Record<string, string>> {
    if (!this.auth) return h;
    return overriding(h, await this.auth.headers());
  }

  private tooLarge(): BadResponseError {
    return new BadResponseError(
      `upstream response exceeds ${this.cfg.maxResponseBytes} bytes (upstreams.${this.cfg.name}.max_response_bytes)`,
    );
  }

  private async readBody(body: Dispatcher.ResponseData['body']): Promise<string> {
    try {
      return await readCapped(body, this.cfg.maxResponseBytes);
    } catch (err) {
      body.destroy();
      if (err instanceof GatewayError && err.kind === 'payload_too_large') throw this.tooLarge();
      // Not the cap: the body broke off (shorter than its Content-Length, connection reset).
      throw new BadResponseError(`upstream response body incomplete: ${(err as Error).message}`);
    }
  }

  /** Delivers a JSON body's message(s). false when it holds no JSON-RPC message. */
  private deliverJson(text: string, requestId: RequestId | undefined): boolean {
    const bounded = parseBounded(text, UPSTREAM_JSON);
    if (!('value' in bounded)) return false;
    const parsed = bounded.value;
    const list = Array.isArray(parsed) ? parsed : [parsed];
    let delivered = false;
    for (const item of list) {
      const msg = validateMessage(item);
      if (typeof msg === 'string') continue;
      // A 4xx JSON-RPC error without id still answers the request that caused it.
      if (!('method' in msg) && msg.id === null && requestId !== undefined) (msg as { id: RequestId }).id = requestId;
      this.events?.message(msg, requestId);
      delivered = true;
    }
    return delivered;
  }

  private async consumeStream(
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
      this.events?.message(msg, requestId);
    };
    const invalid = (r: string): void => {
      broken = `upstream sent an invalid message (${r})`;
      this.log.warn({ upstream: this.cfg.name, reason: r }, 'bad SSE message');
    };
    try {
      await readSse(body, { message: onMessage, invalid }, this.cfg.maxResponseBytes);
    } catch (err) {
      // Over the cap: the stream was cut, and resuming would only send the same event again.
      if (err instanceof SseEventTooLarge) broken = this.tooLarge().message;
      /* else stream broken: resume below */
    }
    // The server may close a POST stream early and let us resume it with Last-Event-ID.
    for (
      let attempt = 0;
      !answered && !broken && lastEventId && attempt < 3 && !this.closed && !abort?.aborted;
      attempt++
    ) {
      try {
        const res = await this.pool.request({
          method: 'GET',
          path: this.path,
          headers: await this.withAuth(this.headers({ accept: 'text/event-stream', 'last-event-id': lastEventId })),
        });
        if (res.statusCode !== 200) {
          await res.body.dump();
          break;
        }
        await readSse(res.body, { message: onMessage, invalid }, this.cfg.maxResponseBytes);
      } catch {
        /* try again */
      }
    }
    if (!answered && requestId !== undefined && !this.closed && !abort?.aborted) {
      this.events?.message(
        {
          jsonrpc: '2.0',
          id: requestId,
          error: { code: -32052, message: broken ?? 'upstream closed the stream before answering' },
        },
        requestId,
      );
    }
  }

  initialized(info: { sessionId?: string | undefined; protocolVersion: string; stateless?: boolean }): void {
    if (info.sessionId) this.sessionId = info.sessionId;
    this.protocolVersion = info.protocolVersion;
    this.postHeaders = undefined;
    if (!info.stateless) void this.listen();
  }

  /** The standalone GET stream: unsolicited notifications and requests. Reconnects with backoff. */
  private async listen(): Promise<void> {
    let delay = 500;
    let lastEventId: string | undefined;
    while (!this.closed) {
      try {
        const res = await this.pool.request({
          method: 'GET',
          path: this.path,
          headers: await this.withAuth(
            this.headers(
              lastEventId
                ? { accept: 'text/event-stream', 'last-event-id': lastEventId }
                : { accept: 'text/event-stream' },
            ),
          ),
          signal: this.getStream.signal,
        });
        if (res.statusCode === 405) return void (await res.body.dump()); // server offers no GET stream
        if (res.statusCode === 404 && this.sessionId) {
          await res.body.dump();
          this.events?.closed('upstream session expired (404 on GET)');
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
                this.events?.message(msg, undefined);
              },
            },
            this.cfg.maxResponseBytes,
          );
        }
      } catch {
        /* reconnect */
      }
      if (this.closed) return;
      await new Promise((r) => setTimeout(r, delay).unref());
      delay = Math.min(delay * 2, 30_000);
    }
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
    await this.pool.close().catch(() => this.pool.destroy());
    clearTimeout(grace);
  }
}

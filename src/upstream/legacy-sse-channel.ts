// The 2024-11-05 HTTP+SSE transport: a GET stream announces a POST endpoint in an `endpoint`
// event; every server message, responses included, arrives on that stream.
import { Pool } from 'undici';
import type { Logger } from 'pino';
import type { JsonRpcMessage } from '../mcp/jsonrpc.js';
import { BadResponseError, ChannelError, type Channel, type ChannelEvents } from './channel.js';
import { readCapped } from '../http/node-io.js';
import { GatewayError } from '../errors.js';
import { quoteWithout, scrubbingEchoes, sentSecrets } from './sent-secrets.js';
import { readSse } from './sse-reader.js';
import type { HttpUpstreamConfig } from '../config/runtime.js';

export class LegacySseChannel implements Channel {
  private readonly pool: Pool;
  private readonly url: URL;
  private postPath: string | undefined;
  private readonly stream = new AbortController();
  private closed = false;
  readonly describe: string;
  /** Our credentials (headers, URL query and password), cut out of upstream text we repeat. */
  private readonly secrets: readonly string[];

  constructor(
    private readonly cfg: HttpUpstreamConfig,
    private readonly log: Logger,
    private readonly extraHeaders: Readonly<Record<string, string>> = {},
  ) {
    this.url = new URL(cfg.url);
    this.pool = new Pool(this.url.origin, {
      connections: cfg.connections,
      connect: { timeout: cfg.timeouts.connectMs },
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    this.describe = `sse:${this.url.href}`;
    this.secrets = sentSecrets([cfg.headers, extraHeaders], this.url);
  }

  async open(given: ChannelEvents): Promise<void> {
    const secrets = this.secrets;
    const events = secrets.length > 0 ? scrubbingEchoes(given, () => secrets) : given;
    const res = await this.pool
      .request({
        method: 'GET',
        path: this.url.pathname + this.url.search,
        headers: { ...this.cfg.headers, ...this.extraHeaders, accept: 'text/event-stream' },
        signal: this.stream.signal,
      })
      .catch((err: Error) => {
        throw new ChannelError(`cannot reach upstream: ${err.message}`);
      });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new ChannelError(`upstream SSE endpoint answered HTTP ${res.statusCode}`);
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new ChannelError('upstream sent no endpoint event')),
        this.cfg.timeouts.connectMs,
      );
      readSse(
        res.body,
        {
          message: (msg) => events.message(msg, undefined),
          other: (ev) => {
            if (ev.event !== 'endpoint') return;
            const target = new URL(ev.data.trim(), this.url);
            if (target.origin !== this.url.origin) {
              reject(new ChannelError('upstream announced an endpoint on another origin'));
              return;
            }
            this.postPath = target.pathname + target.search;
            clearTimeout(timer);
            resolve();
          },
          invalid: (r) => this.log.warn({ upstream: this.cfg.name, reason: r }, 'bad SSE message'),
        },
        this.cfg.maxResponseBytes,
      )
        .catch(() => undefined)
        .finally(() => {
          clearTimeout(timer);
          reject(new ChannelError('upstream SSE stream ended'));
          if (!this.closed) events.closed('upstream SSE stream ended');
        });
    });
  }

  async send(msg: JsonRpcMessage): Promise<void> {
    if (!this.postPath || this.closed) throw new ChannelError('channel not open', true);
    const res = await this.pool
      .request({
        method: 'POST',
        path: this.postPath,
        headers: { ...this.cfg.headers, ...this.extraHeaders, 'content-type': 'application/json' },
        body: JSON.stringify(msg),
      })
      .catch((err: Error) => {
        throw new ChannelError(`cannot reach upstream: ${err.message}`);
      });
    const text = await readCapped(res.body, this.cfg.maxResponseBytes).catch((err: unknown) => {
      res.body.destroy();
      if (!(err instanceof GatewayError && err.kind === 'payload_too_large'))
        throw new BadResponseError(`upstream response body incomplete: ${(err as Error).message}`);
      throw new BadResponseError(
        `upstream response exceeds ${this.cfg.maxResponseBytes} bytes (upstreams.${this.cfg.name}.max_response_bytes)`,
      );
    });
    if (res.statusCode === 404) throw new ChannelError('upstream session expired', true);
    if (res.statusCode >= 300)
      throw new ChannelError(`upstream answered HTTP ${res.statusCode}: ${quoteWithout(text, 200, this.secrets)}`);
  }

  initialized(): void {}

  async close(): Promise<void> {
    this.closed = true;
    this.stream.abort();
    await this.pool.close().catch(() => this.pool.destroy());
  }
}

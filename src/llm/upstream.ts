// HTTP to LLM upstreams: one undici keep-alive Pool per origin, the headers we send (the agent's,
// minus its credentials and hop-by-hop headers, plus the upstream's key), and capped body reads.
import type { IncomingHttpHeaders } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import type { LlmUpstreamConfig } from './runtime.js';

export type UpstreamBody = Dispatcher.ResponseData['body'];
export type UpstreamHeaders = Dispatcher.ResponseData['headers'];

export class Pools {
  private readonly pools = new Map<string, Pool>();

  get(u: LlmUpstreamConfig): Pool {
    let p = this.pools.get(u.origin);
    if (!p) {
      p = new Pool(u.origin, {
        connections: u.connections,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        connect: { timeout: u.timeouts.connectMs },
      });
      this.pools.set(u.origin, p);
    }
    return p;
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.destroy().catch(() => undefined)));
  }
}

// Never forwarded: the agent's credentials for us, hop-by-hop headers, what undici computes, and
// accept-encoding (we read usage from the body, so it must arrive uncompressed).
const DROP_REQUEST = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
  'expect',
  'accept-encoding',
  'authorization',
  'x-api-key',
  'api-key',
  'cookie',
  'openai-organization',
  'openai-project',
]);

/** Headers for one upstream call; `agent` is the incoming request's (lower-case names). */
export function requestHeaders(agent: IncomingHttpHeaders, u: LlmUpstreamConfig): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in agent) {
    if (DROP_REQUEST.has(name)) continue;
    const v = agent[name];
    if (v !== undefined) out[name] = Array.isArray(v) ? v.join(', ') : v;
  }
  out['content-type'] = 'application/json';
  if (u.kind === 'anthropic') {
    out['anthropic-version'] ??= '2023-06-01';
    if (u.apiKey) out['x-api-key'] = u.apiKey;
  } else if (u.apiKey) {
    out.authorization = `Bearer ${u.apiKey}`;
  }
  for (const name in u.headers) out[name.toLowerCase()] = u.headers[name]!;
  return out;
}

// Hop-by-hop and framing headers, and what names the gateway's own upstream account.
const DROP_RESPONSE = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'content-encoding',
  'trailer',
  'upgrade',
  'set-cookie',
  'proxy-authenticate',
  'date',
  'server',
  'openai-organization',
  'openai-project',
  'anthropic-organization-id',
]);

/** The upstream's response headers as the agent gets them (plain object: node-server's fast path). */
export function responseHeaders(h: UpstreamHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in h) {
    if (DROP_RESPONSE.has(name)) continue;
    const v = h[name];
    if (v !== undefined) out[name] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

export function header(h: UpstreamHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** ms the upstream asked us to wait: `retry-after-ms` (OpenAI, Azure) or `retry-after` (seconds or a date). */
export function retryAfterMs(h: UpstreamHeaders, nowMs = Date.now()): number | undefined {
  const ms = header(h, 'retry-after-ms');
  if (ms !== undefined && ms.trim() !== '' && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Number(ms);
  const ra = header(h, 'retry-after');
  if (ra === undefined || ra.trim() === '') return undefined;
  const s = Number(ra);
  if (Number.isFinite(s)) return s >= 0 ? s * 1000 : undefined;
  const at = Date.parse(ra);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** Reads a body whole; past `maxBytes` the rest is discarded (error bodies only need their start). */
export function readAll(body: UpstreamBody, maxBytes = Infinity): Promise<Buffer> {
  // Events, not an async iterator: measurably cheaper per response on the hot path.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      if (size >= maxBytes) return;
      chunks.push(chunk);
      size += chunk.length;
    });
    body.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    body.once('error', reject);
  });
}

/** A body longer than the cap readWhole was given (the upstream's answer was cut off). */
export class TooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`body exceeds ${maxBytes} bytes`);
  }
}

/**
 * Reads a body whole, up to `maxBytes`: beyond, the body is destroyed (the upstream connection
 * freed) and the read rejects with TooLargeError, so no answer is held in memory past the cap.
 */
export function readWhole(body: UpstreamBody, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      body.off('data', onData);
      chunks.length = 0;
      reject(new TooLargeError(maxBytes));
      body.destroy();
    };
    body.on('data', onData);
    body.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    body.once('error', reject);
  });
}

export interface SendOptions {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  u: LlmUpstreamConfig;
}

/** Until headers: bounded by first_byte (and total). The caller bounds the body phase by total. */
export function send(pool: Pool, o: SendOptions): Promise<Dispatcher.ResponseData> {
  const t = o.u.timeouts;
  return pool.request({
    path: o.path,
    method: 'POST',
    headers: o.headers,
    body: o.body,
    headersTimeout: Math.min(t.firstByteMs, t.totalMs),
    bodyTimeout: t.firstByteMs,
  });
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** undici's first-byte/idle timeouts, and our total and drain timeouts (a TimeoutError). */
export function isTimeout(err: unknown): boolean {
  const e = err as { code?: string; name?: string } | undefined;
  return (
    e !== undefined && e !== null && (e.name === 'TimeoutError' || (e.code !== undefined && TIMEOUT_CODES.has(e.code)))
  );
}

// Fast access to the Node request under Hono. Touching `c.req.raw.body`, `.signal` or `.headers`
// makes @hono/node-server build a full web Request (measured: ~20% of the relay's CPU per call), so
// the hot path reads headers and the body from the IncomingMessage when there is one.
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { GatewayError } from '../errors.js';

export const incomingOf = (c: Context): IncomingMessage | undefined =>
  (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;

/** A request header (lower-case name), without materialising web Headers. */
/** Destroys the request's connection (an SSE stream cut for falling behind); undefined off Node. */
export function cutOf(c: Context): (() => void) | undefined {
  const incoming = incomingOf(c);
  return incoming ? () => incoming.socket.destroy() : undefined;
}

export function headerOf(c: Context, name: string): string | undefined {
  const incoming = incomingOf(c);
  if (!incoming) return c.req.header(name);
  const v = incoming.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

const tooLarge = (maxBytes: number): GatewayError =>
  new GatewayError('payload_too_large', `Payload Too Large: the body exceeds ${maxBytes} bytes`);

/**
 * Bodies a middleware read before the route (readAhead): the text, or the byte count of one longer
 * than it would keep (no route reads that much, so readBody refuses it). The stream has ended by then.
 */
const readAheadBodies = new WeakMap<IncomingMessage, string | number>();

/** The body as text, refusing more than `maxBytes` even when no Content-Length announced the size. */
export async function readBody(c: Context, maxBytes: number): Promise<string> {
  const incoming = incomingOf(c);
  if (!incoming) {
    const text = await c.req.text();
    if (Buffer.byteLength(text) > maxBytes) throw tooLarge(maxBytes);
    return text;
  }
  const ahead = readAheadBodies.get(incoming);
  if (typeof ahead === 'number') throw tooLarge(maxBytes);
  if (ahead !== undefined) {
    if (Buffer.byteLength(ahead) > maxBytes) throw tooLarge(maxBytes);
    return ahead;
  }
  return readCapped(incoming, maxBytes);
}

/**
 * Reads the body now, up to `maxBytes` (rejects with payload_too_large beyond), and keeps it for
 * readBody: for a middleware that must cap a body sent without Content-Length whether or not its
 * route ever reads it. At most `keepBytes` are kept (they must cover the largest body a route
 * reads): a middleware that runs before credentials must not hold `maxBytes` for anyone who asks.
 */
export async function readAhead(c: Context, maxBytes: number, keepBytes = maxBytes): Promise<void> {
  const incoming = incomingOf(c);
  // Without a Node request (app.request in tests) Hono keeps the text for the route's c.req.text().
  if (!incoming) return void (await readBody(c, maxBytes));
  holdBody(
    incoming,
    await collect(incoming, maxBytes, keepBytes, (kept) => (typeof kept === 'number' ? kept : text(kept))),
  );
}

/** A body already read from `incoming` (readAhead, the /mcp fast lane), for the route that reads it next: its text, or its byte count when too long to keep. */
export function holdBody(incoming: IncomingMessage, body: string | number): void {
  readAheadBodies.set(incoming, body);
}

const text = (chunks: Buffer[]): string =>
  chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8');

/** Collects a Node stream's bytes up to a cap (event-based: cheaper than an async iterator). */
export function readCapped(
  stream: NodeJS.ReadableStream & { destroy?: () => void },
  maxBytes: number,
): Promise<string> {
  return collect(stream, maxBytes, maxBytes, (kept) => text(kept as Buffer[]));
}

/**
 * The bytes of a stream up to `maxBytes` (rejected beyond): past `keepBytes` the chunks are dropped
 * and only counted, and `done` gets the byte count instead of the chunks (readAhead).
 */
function collect<T>(
  stream: NodeJS.ReadableStream & { destroy?: () => void },
  maxBytes: number,
  keepBytes: number,
  done: (kept: Buffer[] | number) => T,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] | undefined = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        stream.removeListener('data', onData);
        stream.resume();
        reject(tooLarge(maxBytes));
        return;
      }
      if (size > keepBytes) chunks = undefined;
      else chunks?.push(chunk);
    };
    stream.on('data', onData);
    stream.once('end', () => resolve(done(chunks ?? size)));
    stream.once('error', reject);
  });
}

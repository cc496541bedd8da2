// Reading an LLM request's body (bounded) and digesting bodies; separate so proxy.ts keeps to the call's flow.
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import type { AppEnv } from '../http/env.js';
import { sha256Hex } from '../sha256.js';

/** A body's digest for the audit record (one-shot: no Hash object per call). */
export function sha256(b: Buffer): string {
  return sha256Hex(b);
}

/** The request body, refusing more than `max` bytes (event-based: cheaper than an async iterator). */
export function readRequest(c: Context<AppEnv>, incoming: IncomingMessage | undefined, max: number): Promise<Buffer> {
  if (!incoming) {
    return c.req.arrayBuffer().then((ab) => {
      if (ab.byteLength > max) throw new Error('too large');
      return Buffer.from(ab);
    });
  }
  return readIncoming(incoming, max);
}

/** The body of a node:http request, refusing more than `max` bytes. */
export function readIncoming(incoming: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= max) chunks.push(chunk);
      else {
        incoming.removeListener('data', onData);
        incoming.resume();
        reject(new Error('too large'));
      }
    };
    incoming.on('data', onData);
    incoming.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    incoming.once('error', reject);
  });
}

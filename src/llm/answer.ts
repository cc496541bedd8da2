// What an LLM call answers the agent, before it is an HTTP response: a whole body (JSON, errors) or
// a relayed stream. The Hono route makes it a web Response; the fast lane (fast-lane.ts) writes it
// to node:http's response directly, without a Response object or a web stream in between.
import type { ServerResponse } from 'node:http';
import { readableOf, type ChunkSink, type RelaySource } from './stream.js';

export type LlmAnswer =
  | { status: number; headers: Record<string, string>; body: Buffer | string; stream?: undefined }
  | { status: number; headers: Record<string, string>; stream: RelaySource; body?: undefined };

/** The answer as a web Response (the Hono route). */
export function toResponse(a: LlmAnswer): Response {
  if (a.stream) return new Response(readableOf(a.stream), { status: a.status, headers: a.headers });
  return new Response(a.body, { status: a.status, headers: a.headers });
}

/**
 * Writes the answer to node:http's response. A stream is pulled one chunk at a time, the next pull
 * waiting for `drain` when the socket is full (a slow agent slows the upstream read, as the web
 * stream's backpressure does); an agent that leaves first cancels it (the upstream is still read for
 * its usage, stream.ts).
 */
export function writeAnswer(res: ServerResponse, a: LlmAnswer, onError: (err: unknown) => void): void {
  if (!a.stream) {
    // Set here: headers written before the body would otherwise make node chunk it.
    a.headers['content-length'] = String(typeof a.body === 'string' ? Buffer.byteLength(a.body) : a.body.length);
    res.writeHead(a.status, a.headers);
    res.end(a.body);
    return;
  }
  res.writeHead(a.status, a.headers);
  pipeToNode(a.stream, res).catch(onError);
}

async function pipeToNode(src: RelaySource, res: ServerResponse): Promise<void> {
  // The agent left while the upstream's first chunk was awaited: its 'close' has come and gone.
  if (res.destroyed) return src.cancel();
  let ended = false;
  let gone = false;
  let full = false;
  let wake: (() => void) | undefined;
  const sink: ChunkSink = {
    enqueue(chunk) {
      if (!res.destroyed && !res.write(chunk)) full = true;
    },
    close() {
      ended = true;
      if (!res.destroyed) res.end();
    },
  };
  // 'close' comes after the end too (ended), or when the connection is lost first (the agent left).
  res.once('close', () => {
    gone = true;
    wake?.();
    if (!ended) src.cancel();
  });
  res.on('drain', () => wake?.());
  while (!ended && !gone) {
    await src.pull(sink);
    if (full && !ended && !gone) await new Promise<void>((r) => (wake = r));
    wake = undefined;
    full = false;
  }
}

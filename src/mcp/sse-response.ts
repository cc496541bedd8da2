// An SSE HTTP response fed by an EventStream: never buffered (X-Accel-Buffering: no), with
// keep-alive comments so idle proxies do not cut it.
// Backpressure: the body's queue counts bytes, and what the socket has not taken yet may grow to
// the stream's maxQueuedBytes (one message always fits an empty queue). Past that a write is
// refused and the EventStream decides (drop a droppable notification, or cut the connection).
import type { EventStream, SseSink } from './event-stream.js';
import type { Slot } from './connection-cap.js';

const encoder = new TextEncoder();

export function sseResponse(
  stream: EventStream,
  opts: {
    keepaliveMs: number;
    headers?: Record<string, string>;
    afterSeq?: number | undefined;
    onOpen?: (sink: SseSink) => void;
    /** This connection's place under the SSE stream caps: given back when it ends. */
    slot: Slot;
    /** The agent closed the connection, or it was cut for falling behind (called once). */
    onCancel?: () => void;
    /**
     * Destroys the connection (its socket) at once. Without it a stream cut for falling behind
     * still ends (its queue, at most the bound, drains first).
     */
    cut?: (() => void) | undefined;
  },
): Response {
  let sink: SseSink | undefined;
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  let cancelled = false;
  const cancelOnce = (): void => {
    if (cancelled) return;
    cancelled = true;
    opts.onCancel?.();
  };
  const max = stream.bounds.maxQueuedBytes;
  /** Runs once, whichever way the connection ends. */
  const end = (): void => {
    if (ended) return;
    ended = true;
    clearInterval(timer);
    opts.slot.release();
  };
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        let open = true;
        sink = {
          write(chunk) {
            if (!open) return true;
            const bytes = encoder.encode(chunk);
            const queued = max - (controller.desiredSize ?? 0);
            if (queued > 0 && queued + bytes.byteLength > max) return false;
            controller.enqueue(bytes);
            return true;
          },
          queued: () => (open ? max - (controller.desiredSize ?? 0) : 0),
          close() {
            if (!open) return;
            open = false;
            end();
            controller.close();
          },
          abort() {
            if (!open) return;
            open = false;
            end();
            // Ended, not errored (the HTTP adapter would log an error); the socket is destroyed,
            // which drops what is still queued.
            controller.close();
            opts.cut?.();
            cancelOnce();
          },
        };
        timer = setInterval(() => sink?.write(': keepalive\n\n'), opts.keepaliveMs);
        timer.unref();
        opts.onOpen?.(sink);
        stream.attach(sink, opts.afterSeq);
      },
      cancel() {
        end();
        if (sink) stream.detach(sink);
        cancelOnce();
      },
    },
    { highWaterMark: max, size: (chunk) => chunk.byteLength },
  );
  return new Response(body, {
    status: 200,
    headers: {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...opts.headers,
    },
  });
}

// An SSE HTTP response fed by an EventStream: never buffered (X-Accel-Buffering: no), with
// keep-alive comments so idle proxies do not cut it.
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
    /** The agent closed the connection. */
    onCancel?: () => void;
  },
): Response {
  let sink: SseSink | undefined;
  let timer: NodeJS.Timeout | undefined;
  const uncount = (): void => opts.slot.release();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      let open = true;
      sink = {
        write(chunk) {
          if (open) controller.enqueue(encoder.encode(chunk));
        },
        close() {
          if (!open) return;
          open = false;
          clearInterval(timer);
          uncount();
          controller.close();
        },
      };
      timer = setInterval(() => sink?.write(': keepalive\n\n'), opts.keepaliveMs);
      timer.unref();
      opts.onOpen?.(sink);
      stream.attach(sink, opts.afterSeq);
    },
    cancel() {
      clearInterval(timer);
      uncount();
      if (sink) stream.detach(sink);
      opts.onCancel?.();
    },
  });
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

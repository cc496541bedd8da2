// The agent's side of a streaming call. Chunks are forwarded as they arrive (whole events only: a
// partial event waits for its end), pulled one at a time so a slow agent slows the upstream read
// instead of filling memory. When the agent leaves, the upstream is still read to its end (bounded
// by the drain timeout) so the real usage is charged and audited. The relay is a RelaySource, pulled
// by either adapter: a web ReadableStream (the Hono route) or node:http's response (the fast lane,
// answer.ts).
import { createHash } from 'node:crypto';
import { streamErrorEvent, type Usage } from './dialect.js';
import { splitEvents, type StreamInspector } from './sse.js';
import { isTimeout, type UpstreamBody } from './upstream.js';
import type { ApiKind } from './runtime.js';

export interface StreamEnd {
  usage: Usage | undefined;
  outcome: 'ok' | 'error' | 'timeout';
  /** The agent disconnected before the end. */
  agentLeft: boolean;
  /**
   * The upstream stream broke off or was abandoned (timeout, lost connection, drain_timeout) before
   * its end: `usage` is then at most a running count (Anthropic's message_start says 1 output token).
   */
  cut: boolean;
  message: string | undefined;
  /** What the agent was sent (or, at the final event, is about to be). */
  bytes: number;
  sha256: string;
}

export interface RelayOptions {
  kind: ApiKind;
  first: Buffer;
  rest: AsyncIterator<Buffer>;
  body: UpstreamBody;
  inspector: StreamInspector;
  drainTimeoutMs: number;
  /** Called exactly once: before the final event is released, or when the stream ends otherwise. */
  finish(end: StreamEnd): Promise<void>;
}

/** Where a pull puts its output: a ReadableStream's controller, or the fast lane's response. */
export interface ChunkSink {
  enqueue(chunk: Buffer): void;
  close(): void;
}

export interface RelaySource {
  /** Puts the next chunk into the sink (at most one), or closes it; one pull at a time. */
  pull(sink: ChunkSink): Promise<void>;
  /** The agent left: what is left of the upstream is read (bounded by the drain timeout) for its usage. */
  cancel(): void;
}

const EMPTY: Buffer = Buffer.alloc(0);

/** The relay as a web stream (pulled one chunk at a time: a slow agent slows the upstream read). */
export function readableOf(src: RelaySource): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    { pull: (controller) => src.pull(controller), cancel: () => src.cancel() },
    { highWaterMark: 0 },
  );
}

export function relaySource(o: RelayOptions): RelaySource {
  const { inspector } = o;
  let pending: Buffer = EMPTY;
  let first: Buffer | undefined = o.first;
  let finished = false;
  let cancelled = false;
  let current: Promise<void> = Promise.resolve();
  const hash = createHash('sha256');
  let bytes = 0;

  const finish = async (outcome: StreamEnd['outcome'], message?: string): Promise<void> => {
    if (finished) return;
    finished = true;
    const errored = outcome === 'ok' && inspector.errored;
    await o.finish({
      usage: inspector.usage,
      outcome: errored ? 'error' : outcome,
      agentLeft: cancelled,
      cut: outcome !== 'ok',
      message: errored ? 'the upstream sent an error event' : message,
      bytes,
      sha256: hash.copy().digest('hex'),
    });
  };

  /** What to send for one upstream chunk; settles and audits before a final event goes out. */
  const process = async (chunk: Buffer): Promise<Buffer | undefined> => {
    const buf = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
    const { events, texts, rest } = splitEvents(buf, buf.toString('latin1'));
    pending = rest;
    if (events.length === 0) return undefined;
    let changed = false;
    const parts: Buffer[] = [];
    for (let i = 0; i < events.length; i++) {
      const ev = events[i] as Buffer;
      const text = texts[i] as string;
      const out = inspector.inspect(ev, text);
      if (out !== ev) changed = true;
      if (out && !cancelled) {
        hash.update(out);
        bytes += out.length;
        parts.push(out);
      }
      if (!finished && inspector.isFinal(ev, text)) await finish('ok');
    }
    if (!changed) return buf.subarray(0, buf.length - rest.length);
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  };

  const failMessage = (err: unknown): string => {
    const what = isTimeout(err) ? 'the upstream timed out mid-stream' : 'the upstream connection failed mid-stream';
    return cancelled ? `agent disconnected; ${what} (or drain_timeout passed)` : what;
  };

  const pullOnce = async (controller: ChunkSink): Promise<void> => {
    try {
      for (;;) {
        let chunk: Buffer;
        if (first) {
          chunk = first;
          first = undefined;
        } else {
          const n = await o.rest.next();
          if (n.done) {
            const tail = pending;
            pending = EMPTY;
            if (tail.length > 0 && !cancelled) {
              hash.update(tail);
              bytes += tail.length;
            }
            await finish('ok');
            if (cancelled) return;
            if (tail.length > 0) controller.enqueue(tail);
            controller.close();
            return;
          }
          chunk = n.value;
        }
        const out = await process(chunk);
        if (cancelled) return;
        if (out && out.length > 0) {
          controller.enqueue(out);
          return;
        }
      }
    } catch (err) {
      const message = failMessage(err);
      await finish(isTimeout(err) ? 'timeout' : 'error', message);
      if (cancelled) return;
      // The SDKs raise an error event as an error; a bare close would look like a complete answer.
      controller.enqueue(streamErrorEvent(o.kind, message));
      controller.close();
    }
  };

  const drain = async (): Promise<void> => {
    try {
      for (;;) {
        const n = await o.rest.next();
        if (n.done) break;
        await process(n.value);
      }
      await finish('ok');
    } catch (err) {
      await finish(isTimeout(err) ? 'timeout' : 'error', failMessage(err));
    }
  };

  return {
    pull(controller) {
      current = pullOnce(controller);
      return current;
    },
    cancel() {
      cancelled = true;
      // The bound starts now, also for a pull still waiting on the upstream.
      const timer = setTimeout(
        () => o.body.destroy(new DOMException('drain timeout', 'TimeoutError')),
        o.drainTimeoutMs,
      );
      // After the pull in progress (it shares the upstream iterator), read the rest for its usage.
      current = current.then(drain, drain).finally(() => clearTimeout(timer));
    },
  };
}

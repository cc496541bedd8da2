// One logical SSE stream to an agent (a POST's response stream, or the standalone GET stream).
// Events get ids `<streamId>_<seq>` and the last N are kept, so a client that lost the connection
// can reconnect with Last-Event-ID and miss nothing (Streamable HTTP resumability).
// Bounded (see stream-bounds.ts): the replay buffer holds at most N events and maxQueuedBytes (the
// newest event always), and a connection's send queue at most maxQueuedBytes beyond its socket;
// past that, droppable notifications are dropped and anything else closes the connection.
import type { JsonRpcMessage } from './jsonrpc.js';
import { DEFAULT_STREAM_BOUNDS, isDroppable, kindOf, type StreamBounds } from './stream-bounds.js';

export interface SseSink {
  /** Queues a chunk; false (nothing queued) when the connection already holds too much. */
  write(chunk: string): boolean;
  close(): void;
  /** Bytes queued that the socket has not taken yet. */
  queued(): number;
  /** Cuts the connection at once, dropping what it still queues (the agent fell too far behind). */
  abort(): void;
}

interface Buffered {
  seq: number;
  frame: string;
}

export const formatEvent = (id: string | undefined, data: string, event?: string): string =>
  `${event ? `event: ${event}\n` : ''}${id ? `id: ${id}\n` : ''}data: ${data}\n\n`;

export class EventStream {
  private seq = 0;
  /** The last event written to a connection: events after it were never seen by anyone. */
  private delivered = 0;
  private readonly buffer: Buffered[] = [];
  /** UTF-16 length of the frames in `buffer` (a byte bound within a factor of 3). */
  private bufferChars = 0;
  private sink: SseSink | undefined;
  /** The stream's last event has been written; the connection closes after it. */
  private finished = false;
  /** Droppable notifications dropped because the connection held too much. */
  dropped = 0;
  /** Connections closed because they held too much. */
  overflows = 0;
  /**
   * Told when a message could not be queued and the connection was cut (the message is kept for
   * replay). The owner ends what depended on it (a POST's calls, a legacy session).
   */
  onOverflow: ((msg: JsonRpcMessage) => void) | undefined;

  constructor(
    readonly id: string,
    private readonly keep: number,
    readonly bounds: StreamBounds = DEFAULT_STREAM_BOUNDS,
  ) {}

  get attached(): boolean {
    return this.sink !== undefined;
  }
  get isFinished(): boolean {
    return this.finished;
  }
  /** Events given an id so far (kept or delivered; dropped ones are not counted). */
  get events(): number {
    return this.seq;
  }
  /** Bytes the current connection holds that its socket has not taken (0 without one). */
  get queuedBytes(): number {
    return this.sink?.queued() ?? 0;
  }
  /** Events and characters kept for replay (for tests and operators). */
  get buffered(): { events: number; chars: number } {
    return { events: this.buffer.length, chars: this.bufferChars };
  }

  push(msg: JsonRpcMessage): void {
    const seq = this.seq + 1;
    const frame = formatEvent(`${this.id}_${seq}`, JSON.stringify(msg));
    if (this.sink && !this.sink.write(frame)) {
      if (isDroppable(msg)) {
        this.dropped++;
        this.bounds.pressure?.dropped(this.id, this.dropped === 1);
        return;
      }
      this.seq = seq;
      this.remember(seq, frame);
      this.overflow(msg);
      return;
    }
    this.seq = seq;
    this.remember(seq, frame);
    if (this.sink) this.delivered = seq;
  }

  private remember(seq: number, frame: string): void {
    if (this.keep <= 0) return;
    this.buffer.push({ seq, frame });
    this.bufferChars += frame.length;
    while (
      this.buffer.length > 1 &&
      (this.buffer.length > this.keep || this.bufferChars > this.bounds.maxQueuedBytes)
    ) {
      this.bufferChars -= (this.buffer.shift() as Buffered).frame.length;
    }
  }

  /** The connection cannot take `msg`: cut it; the owner decides what else ends with it. */
  private overflow(msg: JsonRpcMessage): void {
    const sink = this.sink;
    this.sink = undefined;
    this.overflows++;
    this.bounds.pressure?.overflowed(this.id, kindOf(msg));
    sink?.abort();
    this.onOverflow?.(msg);
  }

  /**
   * A priming event (an id, no data): lets a 2025-11-25 client resume this stream even if the
   * connection drops before the first real message.
   */
  prime(retryMs: number): void {
    const seq = ++this.seq;
    const frame = `id: ${this.id}_${seq}\nretry: ${retryMs}\ndata: \n\n`;
    this.remember(seq, frame);
    if (this.sink) {
      this.sink.write(frame);
      this.delivered = seq;
    }
  }

  /** Ends the connection with a reconnect hint (shutdown): the client resumes on another instance. */
  hangUp(retryMs: number): void {
    this.sink?.write(`retry: ${retryMs}\n\n`);
    this.finish();
  }

  /** Marks the stream done: the current connection closes; a later resume replays then closes. */
  finish(): void {
    this.finished = true;
    this.sink?.close();
    this.sink = undefined;
  }

  /**
   * Attaches a connection. Replays events after `afterSeq` (resumption), or else the events no
   * connection has seen yet (e.g. notifications sent before the agent opened its GET stream).
   */
  attach(sink: SseSink, afterSeq?: number): void {
    this.sink?.close();
    this.sink = sink;
    const from = afterSeq ?? this.delivered;
    for (const b of this.buffer) {
      // A replay the new connection cannot take either ends it (the events stay kept).
      if (b.seq > from && !sink.write(b.frame)) {
        this.sink = undefined;
        sink.abort();
        return;
      }
    }
    this.delivered = this.seq;
    if (this.finished) {
      sink.close();
      this.sink = undefined;
    }
  }

  detach(sink: SseSink): void {
    if (this.sink === sink) this.sink = undefined;
  }
}

/** Splits a Last-Event-ID into its stream id and sequence number. */
export function parseEventId(v: string): { streamId: string; seq: number } | undefined {
  const i = v.lastIndexOf('_');
  if (i <= 0) return undefined;
  const seq = Number(v.slice(i + 1));
  return Number.isSafeInteger(seq) ? { streamId: v.slice(0, i), seq } : undefined;
}

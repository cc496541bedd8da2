// One logical SSE stream to an agent (a POST's response stream, or the standalone GET stream).
// Events get ids `<streamId>_<seq>` and the last N are kept, so a client that lost the connection
// can reconnect with Last-Event-ID and miss nothing (Streamable HTTP resumability).
import type { JsonRpcMessage } from './jsonrpc.js';

export interface SseSink {
  write(chunk: string): void;
  close(): void;
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
  private sink: SseSink | undefined;
  /** The stream's last event has been written; the connection closes after it. */
  private finished = false;

  constructor(
    readonly id: string,
    private readonly keep: number,
  ) {}

  get attached(): boolean {
    return this.sink !== undefined;
  }
  get isFinished(): boolean {
    return this.finished;
  }

  push(msg: JsonRpcMessage): void {
    const seq = ++this.seq;
    const frame = formatEvent(`${this.id}_${seq}`, JSON.stringify(msg));
    if (this.keep > 0) {
      this.buffer.push({ seq, frame });
      if (this.buffer.length > this.keep) this.buffer.shift();
    }
    if (this.sink) {
      this.sink.write(frame);
      this.delivered = seq;
    }
  }

  /**
   * A priming event (an id, no data): lets a 2025-11-25 client resume this stream even if the
   * connection drops before the first real message.
   */
  prime(retryMs: number): void {
    const seq = ++this.seq;
    const frame = `id: ${this.id}_${seq}\nretry: ${retryMs}\ndata: \n\n`;
    if (this.keep > 0) this.buffer.push({ seq, frame });
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
    for (const b of this.buffer) if (b.seq > from) sink.write(b.frame);
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

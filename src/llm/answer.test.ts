import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { writeAnswer } from './answer.js';
import type { ChunkSink, RelaySource } from './stream.js';

/** A response whose socket takes `room` writes before it is full (write answers false). */
class FakeResponse extends EventEmitter {
  written: string[] = [];
  ended = false;
  destroyed = false;
  head: [number, Record<string, string>] | undefined;
  constructor(public room: number) {
    super();
  }
  writeHead(status: number, headers: Record<string, string>): void {
    this.head = [status, headers];
  }
  write(chunk: Buffer): boolean {
    this.written.push(chunk.toString());
    return --this.room > 0;
  }
  end(): void {
    this.ended = true;
  }
}

/** A relay of `n` chunks (then the end), counting pulls and cancels. */
function source(n: number): RelaySource & { pulls: number; cancelled: boolean } {
  const s = {
    pulls: 0,
    cancelled: false,
    pull(sink: ChunkSink): Promise<void> {
      s.pulls++;
      if (s.pulls > n) sink.close();
      else sink.enqueue(Buffer.from(`c${s.pulls}`));
      return Promise.resolve();
    },
    cancel(): void {
      s.cancelled = true;
    },
  };
  return s;
}

const settled = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('writeAnswer', () => {
  it('writes a whole body with its length', () => {
    const res = new FakeResponse(10);
    const ended: unknown[] = [];
    res.end = (b?: unknown) => void ended.push(b);
    writeAnswer(res as unknown as ServerResponse, { status: 200, headers: {}, body: 'héllo' }, () => undefined);
    expect(res.head).toEqual([200, { 'content-length': '6' }]);
    expect(ended).toEqual(['héllo']);
  });

  it('pulls the next chunk of a stream only once a full socket has drained', async () => {
    const res = new FakeResponse(2);
    const src = source(5);
    writeAnswer(res as unknown as ServerResponse, { status: 200, headers: {}, stream: src }, () => undefined);
    await settled();
    expect(res.written).toEqual(['c1', 'c2']); // the second write found the socket full
    expect(src.pulls).toBe(2);
    res.room = 100;
    res.emit('drain');
    await settled();
    expect(res.written).toEqual(['c1', 'c2', 'c3', 'c4', 'c5']);
    expect(res.ended).toBe(true);
    res.emit('close'); // after the end: nothing to cancel
    expect(src.cancelled).toBe(false);
  });

  it('cancels the relay when the agent leaves first, and writes nothing more', async () => {
    const res = new FakeResponse(1);
    const src = source(5);
    writeAnswer(res as unknown as ServerResponse, { status: 200, headers: {}, stream: src }, () => undefined);
    await settled();
    expect(res.written).toEqual(['c1']);
    res.destroyed = true;
    res.emit('close');
    await settled();
    expect(src.cancelled).toBe(true);
    expect(src.pulls).toBe(1);
    expect(res.ended).toBe(false);
  });

  it('cancels at once a relay whose agent left before the answer started', async () => {
    const res = new FakeResponse(10);
    res.destroyed = true;
    const src = source(5);
    writeAnswer(res as unknown as ServerResponse, { status: 200, headers: {}, stream: src }, () => undefined);
    await settled();
    expect(src.cancelled).toBe(true);
    expect(src.pulls).toBe(0);
  });
});

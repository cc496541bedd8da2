import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openaiInspector } from './sse.js';
import { relaySource, type ChunkSink, type StreamEnd } from './stream.js';
import type { UpstreamBody } from './upstream.js';

describe('relaySource', () => {
  it('relays multi-byte text cut anywhere, without the usage the gateway asked for, and digests what was sent', async () => {
    const event = (content: string) => `data: {"choices":[{"delta":{"content":"${content}"}}],"usage":null}\n\n`;
    const upstream = Buffer.from(
      `${event('héllo 😀')}${event('“quoted” ünïcode')}data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}\n\ndata: [DONE]\n\n`,
    );
    // Cut every 7 bytes: inside multi-byte characters, markers and blank lines.
    const chunks: Buffer[] = [];
    for (let i = 0; i < upstream.length; i += 7) chunks.push(upstream.subarray(i, i + 7));
    const rest = chunks.slice(1)[Symbol.iterator]();
    let end: StreamEnd | undefined;
    const src = relaySource({
      kind: 'openai',
      first: chunks[0]!,
      rest: { next: async () => rest.next() as IteratorResult<Buffer> },
      body: { destroy: () => undefined } as unknown as UpstreamBody,
      inspector: openaiInspector(false),
      drainTimeoutMs: 1000,
      finish: async (e) => void (end = e),
    });
    const sent: Buffer[] = [];
    let closed = false;
    const sink: ChunkSink = { enqueue: (c) => void sent.push(c), close: () => void (closed = true) };
    while (!closed) await src.pull(sink);
    const agentGot = Buffer.concat(sent).toString();
    const strip = (s: string) => s.replace(',"usage":null', '');
    expect(agentGot).toBe(`${strip(event('héllo 😀'))}${strip(event('“quoted” ünïcode'))}data: [DONE]\n\n`);
    expect(end).toMatchObject({ outcome: 'ok', usage: { input: 3, output: 4 }, bytes: Buffer.byteLength(agentGot) });
    expect(end?.sha256).toBe(createHash('sha256').update(agentGot).digest('hex'));
  });
});

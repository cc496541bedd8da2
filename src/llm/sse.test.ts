import { describe, expect, it } from 'vitest';
import { anthropicInspector, openaiInspector, splitEvents } from './sse.js';

const split = (s: string | Buffer) => {
  const buf = Buffer.isBuffer(s) ? s : Buffer.from(s);
  return splitEvents(buf, buf.toString('latin1'));
};

describe('splitEvents', () => {
  it('splits whole events (LF or CRLF blank lines) and keeps the incomplete rest, at byte offsets', () => {
    const r = split('data: é😀\n\ndata: b\r\n\r\n: c\r\n\r\ndata: part');
    expect(r.events.map((e) => e.toString())).toEqual(['data: é😀\n\n', 'data: b\r\n\r\n', ': c\r\n\r\n']);
    expect(r.texts).toEqual(r.events.map((e) => e.toString('latin1')));
    expect(r.rest.toString()).toBe('data: part');
    expect(split('data: x\n').events).toEqual([]);
  });
});

describe('openaiInspector', () => {
  const chunk = (content: string, usage: string) =>
    Buffer.from(`data: {"choices":[{"delta":{"content":"${content}"}}]${usage}}\n\n`);

  it('removes the "usage":null the gateway asked for, byte for byte after multi-byte text', () => {
    const ins = openaiInspector(false);
    const ev = chunk('héllo 😀 “quoted”', ',"usage":null');
    const out = ins.inspect(ev, ev.toString('latin1'));
    expect(out?.toString()).toBe(chunk('héllo 😀 “quoted”', '').toString());
    expect(openaiInspector(true).inspect(ev, ev.toString('latin1'))).toBe(ev);
  });

  it('takes usage from the usage chunk (dropped unless the agent asked), and knows the last event', () => {
    const ins = openaiInspector(false);
    const usage = Buffer.from('data: {"choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7}}\n\n');
    expect(ins.inspect(usage, usage.toString('latin1'))).toBeNull();
    expect(ins.usage).toEqual({ input: 11, output: 7 });
    const done = Buffer.from('data: [DONE]\n\n');
    expect(ins.isFinal(done, done.toString('latin1'))).toBe(true);
    const notDone = chunk('[DONE]', '');
    expect(ins.isFinal(notDone, notDone.toString('latin1'))).toBe(false);
    const err = Buffer.from('data: {"error":{"message":"é"}}\n\n');
    ins.inspect(err, err.toString('latin1'));
    expect(ins.errored).toBe(true);
  });
});

describe('anthropicInspector', () => {
  it('reads usage from message_start and message_delta, and ends at message_stop', () => {
    const ins = anthropicInspector();
    const ev = (name: string, data: unknown) => {
      const b = Buffer.from(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
      return [b, b.toString('latin1')] as const;
    };
    ins.inspect(
      ...ev('message_start', { type: 'message_start', message: { usage: { input_tokens: 5, output_tokens: 1 } } }),
    );
    ins.inspect(...ev('content_block_delta', { type: 'content_block_delta', delta: { text: 'é message_delta' } }));
    ins.inspect(...ev('message_delta', { type: 'message_delta', usage: { output_tokens: 9 } }));
    expect(ins.usage).toEqual({ input: 5, output: 9 });
    expect(ins.isFinal(...ev('message_stop', { type: 'message_stop' }))).toBe(true);
    ins.inspect(...ev('error', { type: 'error' }));
    expect(ins.errored).toBe(true);
  });
});

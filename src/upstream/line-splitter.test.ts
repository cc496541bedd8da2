import { describe, expect, it } from 'vitest';
import { type CutLine, LineSplitter, headFacts } from './line-splitter.js';

function split(max: number, chunks: string[]): { lines: string[]; cuts: CutLine[] } {
  const lines: string[] = [];
  const cuts: CutLine[] = [];
  const s = new LineSplitter(max, { line: (l) => lines.push(l), cut: (c) => cuts.push(c) });
  for (const c of chunks) s.push(Buffer.from(c));
  return { lines, cuts };
}

describe('LineSplitter', () => {
  it('splits lines across and within chunks, trims, skips blank lines, keeps multi-byte characters whole', () => {
    const euro = Buffer.from('€');
    const lines: string[] = [];
    const s = new LineSplitter(100, { line: (l) => lines.push(l), cut: () => undefined });
    s.push(Buffer.from('a\nb'));
    s.push(Buffer.from('c\r\n\n  \nd'));
    s.push(euro.subarray(0, 1));
    s.push(Buffer.concat([euro.subarray(1), Buffer.from('\n')]));
    expect(lines).toEqual(['a', 'bc', 'd€']);
  });

  it('cuts a line over the cap as it arrives, names its id from the head, and carries on with the next line', () => {
    const head = '{"jsonrpc":"2.0","id":7,"result":{"text":"';
    const { lines, cuts } = split(64, [head, 'x'.repeat(100), 'x'.repeat(100), '"}}\n{"ok":1}\n']);
    expect(cuts[0]).toEqual({ bytes: head.length + 100, id: 7, response: true, final: false });
    expect(cuts[1]).toMatchObject({ bytes: head.length + 203, id: 7, final: true });
    expect(lines).toEqual(['{"ok":1}']);
  });

  it('finds an id written after the result in the line tail', () => {
    const parts = ['{"jsonrpc":"2.0","result":{"t":"', 'y'.repeat(500), '"},"id":12}\n'];
    const { cuts } = split(64, parts);
    expect(cuts).toEqual([{ bytes: parts.join('').length - 1, id: 12, response: true, final: true }]);
  });

  it('a server request cut at the cap names no call of ours, even with its id last', () => {
    const { cuts } = split(64, [
      '{"jsonrpc":"2.0","method":"sampling/createMessage","params":{"t":"',
      'z'.repeat(200),
      '"},"id":3}\n',
    ]);
    expect(cuts).toMatchObject([{ id: undefined, response: false, final: true }]);
  });

  it('head facts ignore ids inside strings and nested objects, and the ids of server requests', () => {
    expect(headFacts(Buffer.from('{"jsonrpc":"2.0","x":{"id":3,"s":"\\"id\\":4"},"id":5,"error":{'))).toEqual({
      id: 5,
      response: true,
    });
    expect(headFacts(Buffer.from('{"jsonrpc":"2.0","id":5,"method":"sampling/createMessage","params":{'))).toEqual({
      id: undefined,
      response: false,
      request: true,
    });
    expect(headFacts(Buffer.from('{"result":{"id":3,"x":"'))).toEqual({ id: undefined, response: true });
  });

  it('is linear: a 64 MiB line in 64 KiB chunks is cut without holding it', () => {
    const chunk = Buffer.alloc(64 * 1024, 0x78);
    const cuts: CutLine[] = [];
    const s = new LineSplitter(1024 * 1024, { line: () => undefined, cut: (c) => cuts.push(c) });
    s.push(Buffer.from('{"jsonrpc":"2.0","id":1,"result":"'));
    for (let i = 0; i < 1024; i++) s.push(chunk);
    s.push(Buffer.from('"}\n'));
    expect(cuts.map((c) => c.final)).toEqual([false, true]);
    expect(cuts[1]?.bytes).toBe(64 * 1024 * 1024 + 36);
  });
});

import { describe, expect, it } from 'vitest';
import { chain, chainInto } from './batch.js';
import { GENESIS_HASH } from './record.js';

describe('chainInto', () => {
  it('writes the bytes and the hash chain() gives, for any text, in batches of any size', () => {
    const bodies = [
      '{"a":1}',
      JSON.stringify({ text: 'héllo wörld — 日本語 🎉', lone: '\ud800' }),
      JSON.stringify({ big: 'x'.repeat(70_000) }), // beyond the first scratch buffer
      '{"z":"\\u2028"}',
    ];
    for (const batch of [bodies.slice(0, 1), bodies, bodies.slice(1, 3)]) {
      const { lines, hash } = chain(batch, GENESIS_HASH);
      const into = chainInto(batch, GENESIS_HASH);
      expect(into.hash).toBe(hash);
      expect(into.bytes.toString('utf8')).toBe(`${lines.join('\n')}\n`);
    }
  });

  it('starts from the head it is given', () => {
    const head = 'ab'.repeat(32);
    expect(chainInto(['{"n":2}'], head).bytes.toString()).toBe(`{"n":2,"prev":"${head}"}\n`);
  });
});

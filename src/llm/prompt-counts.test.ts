import { afterAll, describe, expect, it } from 'vitest';
import { get_encoding } from 'tiktoken';
import { createTokenCounter, INLINE_LIMIT_CHARS, type Encoding, type TokenCounter } from '../limits/token-counter.js';
import { PromptCounts, segments } from './prompt-counts.js';

// Pieces that meet at a join in every way tiktoken's expressions care about: newlines and carriage
// returns, whitespace that is and is not \s (U+0085, U+2028, U+FEFF, NBSP), '/', punctuation, words
// with apostrophes, digits, marks, emoji, and special tokens whole and broken.
const ALPHABET = [
  'a',
  'Zb',
  'é',
  '\u0301',
  '1',
  '23',
  '4567',
  ' ',
  '  ',
  '\n',
  '\r',
  '\r\n',
  '\t',
  '\v',
  '\f',
  '/',
  '//',
  ' /',
  '\n/',
  '.',
  '!?',
  "'s",
  "'",
  '"',
  '<|endoftext|>',
  '<|',
  '|>',
  '😀',
  '中文',
  '\u00a0',
  '\u0085',
  '\u2028',
  '\ufeff',
  '\u3000',
  '-',
  '\\',
  '{',
  '}',
  ':',
  ',',
  '\n\n',
  '  \n',
  ' .\n',
  'a\n',
  'Ab',
  'aB',
];

/** A deterministic generator (mulberry32): a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const counters = new Map<Encoding, TokenCounter>();
const counter = (e: Encoding): TokenCounter => {
  let c = counters.get(e);
  if (!c) counters.set(e, (c = createTokenCounter(e)));
  return c;
};
afterAll(async () => {
  for (const c of counters.values()) await c.close();
});

describe('PromptCounts', () => {
  it.each(['o200k_base', 'cl100k_base'] as const)('counts exactly what the whole text counts (%s)', (enc) => {
    const rnd = random(enc === 'o200k_base' ? 1 : 2);
    const pick = (n: number): number => Math.floor(rnd() * n);
    // The reference: the whole text, encoded as the gateway always did (special tokens allowed).
    const whole = get_encoding(enc);
    let cuts = 0;
    for (let i = 0; i < 20_000; i++) {
      const parts = Array.from({ length: 1 + pick(5) }, () =>
        Array.from({ length: pick(6) }, () => ALPHABET[pick(ALPHABET.length)]).join(''),
      );
      const text = parts.join('\n');
      cuts += segments(parts).length - 1;
      // A fresh cache each time: every piece is counted, none looked up.
      const got = new PromptCounts(counter).count('a', enc, parts);
      expect({ parts, n: got }).toEqual({ parts, n: whole.encode(text, 'all').length });
    }
    whole.free();
    expect(cuts).toBeGreaterThan(10_000); // the test did cut prompts, many times
  });

  it('counts a piece once per agent, and again for another agent', () => {
    const seen: string[] = [];
    const fake: TokenCounter = {
      count: async (t) => t.length,
      countEach: (ts) => (seen.push(...ts), ts.map((t) => t.length)),
      warm: () => undefined,
      close: async () => undefined,
    };
    const counts = new PromptCounts(() => fake);
    const system = 'You are a careful assistant.';
    expect(counts.count('a', 'o200k_base', [system, 'hello'])).toBe(system.length + 1 + 5);
    expect(seen).toEqual([`${system}\n`, 'hello']);
    expect(counts.count('a', 'o200k_base', [system, 'hello', 'more'])).toBe(system.length + 1 + 6 + 4);
    expect(seen).toEqual([`${system}\n`, 'hello', 'hello\n', 'more']);
    // Another agent, even one whose id and text spell the same characters, counts its own.
    seen.length = 0;
    expect(counts.count('a\u00000:a', 'o200k_base', [system])).toBe(system.length);
    expect(seen).toEqual([system]);
  });

  it('does not keep a count the encoder failed on, and goes off the event loop past the inline limit', async () => {
    let fail = true;
    const calls: number[] = [];
    const fake: TokenCounter = {
      count: async (t) => t.length,
      countEach: (ts) => {
        const chars = ts.reduce((a, t) => a + t.length, 0);
        calls.push(chars);
        const counts = ts.map((t) => (fail ? -1 : t.length));
        return chars > INLINE_LIMIT_CHARS ? Promise.resolve(counts) : counts;
      },
      warm: () => undefined,
      close: async () => undefined,
    };
    const counts = new PromptCounts(() => fake);
    expect(counts.count('a', 'cl100k_base', ['x'])).toBe(-1);
    fail = false;
    expect(counts.count('a', 'cl100k_base', ['x'])).toBe(1);
    expect(calls).toEqual([1, 1]);
    const long = 'y'.repeat(INLINE_LIMIT_CHARS + 1);
    const later = counts.count('a', 'cl100k_base', [long]);
    expect(later).toBeInstanceOf(Promise);
    expect(await later).toBe(long.length);
    // Known now (keyed by its digest, it is long): no promise.
    expect(counts.count('a', 'cl100k_base', [long])).toBe(long.length);
  });
});

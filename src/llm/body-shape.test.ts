import { describe, expect, it } from 'vitest';
import { jsonShapeProblem, LLM_JSON } from '../mcp/json-shape.js';
import { keysIn, scanBody } from './body-shape.js';

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

/**
 * The duplicate-key scan the gateway used before (a second pass over the text, keys read and kept
 * per object): the reference the parse-and-walk check is held to.
 */
function referenceDuplicates(text: string): boolean {
  const open: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let q = i;
      for (;;) {
        q = text.indexOf('"', q + 1);
        let b = q - 1;
        while (text.charCodeAt(b) === 0x5c) b--;
        if ((q - 1 - b) % 2 === 0) break;
      }
      if (expectKey) {
        const keys = open[open.length - 1] as Set<string>;
        const key = JSON.parse(text.slice(i, q + 1)) as string;
        if (keys.has(key)) return true;
        keys.add(key);
        expectKey = false;
      }
      i = q;
    } else if (c === 0x7b) {
      open.push(new Set());
      expectKey = true;
    } else if (c === 0x5b) {
      open.push(null);
      expectKey = false;
    } else if (c === 0x7d || c === 0x5d) {
      open.pop();
      expectKey = false;
    } else if (c === 0x2c) expectKey = open[open.length - 1] instanceof Set;
  }
  return false;
}

// Keys that collide in different spellings, and strings holding what the scan must skip.
const KEYS = ['"a"', '"\\u0061"', '"b"', '"model"', '"mod\\u0065l"', '"__proto__"', '"1"', '"01"', '"a\\"b"', '"\\\\"'];
const STRINGS = ['""', '"x"', '"\\""', '"\\\\"', '"{[:,]}"', '"\\\\\\""', '"é😀"', '"\\u0022"', '"\\n"'];
const SPACE = ['', ' ', '\n', '\t '];

/** Random JSON text, built by hand so that objects can repeat keys. */
function jsonText(rnd: () => number, depth: number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const ws = (): string => pick(SPACE);
  const r = rnd();
  if (depth > 4 || r < 0.3) return pick([...STRINGS, '1', '-2.5e3', 'true', 'null']);
  const n = Math.floor(rnd() * 4);
  const items = Array.from({ length: n }, () =>
    r < 0.65 ? `${ws()}${pick(KEYS)}${ws()}:${ws()}${jsonText(rnd, depth + 1)}` : jsonText(rnd, depth + 1),
  );
  return r < 0.65 ? `{${items.join(',')}${ws()}}` : `[${items.join(',')}]`;
}

describe('scanBody', () => {
  it('refuses what jsonShapeProblem refuses, word for word, and finds duplicates as the old scan did', () => {
    const rnd = random(11);
    let dups = 0;
    for (let i = 0; i < 20_000; i++) {
      const text = jsonText(rnd, 0);
      const scanned = scanBody(text);
      expect(typeof scanned).toBe('number');
      expect(jsonShapeProblem(text, LLM_JSON)).toBeUndefined();
      const dup = keysIn(JSON.parse(text)) !== scanned;
      expect({ text, dup }).toEqual({ text, dup: referenceDuplicates(text) });
      if (dup) dups++;
    }
    expect(dups).toBeGreaterThan(1000); // the test did meet duplicates, many times
  });

  it.each([
    ['depth', `${'['.repeat(129)}${']'.repeat(129)}`, true],
    ['depth in an object', `{"a":${'{"b":'.repeat(128)}1${'}'.repeat(129)}`, true],
    ['depth just within', `${'['.repeat(128)}${']'.repeat(128)}`, false],
    ['keys', `{${Array.from({ length: 10_001 }, (_, i) => `"k${i}":1`).join(',')}}`, true],
    ['keys just within', `{${Array.from({ length: 10_000 }, (_, i) => `"k${i}":1`).join(',')}}`, false],
    ['keys split over objects', `[{${Array.from({ length: 6000 }, (_, i) => `"k${i}":1`).join(',')}},{"x":1}]`, false],
    ['brackets in strings', `{"a":"${'['.repeat(200)}"}`, false],
  ])('refuses as jsonShapeProblem does (%s)', (_name, text, refused) => {
    const scanned = scanBody(text);
    const problem = jsonShapeProblem(text, LLM_JSON);
    expect(problem !== undefined).toBe(refused);
    expect(typeof scanned === 'string' ? scanned : undefined).toBe(problem);
  });
});

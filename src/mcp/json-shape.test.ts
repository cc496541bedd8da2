import { describe, expect, it } from 'vitest';
import { jsonShapeProblem, parseBounded, type JsonShapeLimits } from './json-shape.js';

const L: JsonShapeLimits = { maxDepth: 4, maxKeys: 3, maxValues: 10 };

describe('jsonShapeProblem', () => {
  it('accepts what is within the limits', () => {
    expect(jsonShapeProblem('[[[[1]]]]', L)).toBeUndefined();
    expect(jsonShapeProblem('{"a":1,"b":2,"c":{"d":1,"e":2,"f":3}}', L)).toBeUndefined();
    expect(jsonShapeProblem('[1,2,3,4,5,6,7,8,9]', L)).toBeUndefined();
  });

  it('refuses depth, keys per object and values in total, with a reason', () => {
    expect(jsonShapeProblem('[[[[[1]]]]]', L)).toBe('message nests deeper than 4 levels');
    expect(jsonShapeProblem('{"a":1,"b":2,"c":3,"d":4}', L)).toBe('an object in the message has more than 3 keys');
    expect(jsonShapeProblem('[1,2,3,4,5,6,7,8,9,10,11]', L)).toBe(
      'message has more than 10 values (keys and array elements)',
    );
  });

  it('ignores brackets, colons, commas and escaped quotes inside strings', () => {
    expect(jsonShapeProblem(`{"a":"[[[[[[,,,,,,,,,,,,:::::\\"{{{{{{\\\\","b":"x"}`, L)).toBeUndefined();
    expect(jsonShapeProblem(`["\\\\",[[[[1]]]]]`, L)).toBe('message nests deeper than 4 levels');
  });

  it('a body of 1.9 M nested arrays is refused after 129 characters', () => {
    const deep = Buffer.from(`${'['.repeat(1_900_000)}${']'.repeat(1_900_000)}`).toString();
    expect(jsonShapeProblem(deep, { maxDepth: 128, maxKeys: 10_000, maxValues: 100_000 })).toBe(
      'message nests deeper than 128 levels',
    );
  });

  it('counts every message afresh (the per-level key counts are shared between checks)', () => {
    const limits = { maxDepth: 4, maxKeys: 3, maxValues: 1000 };
    // Three keys in an object, then text with keys at the top level (not JSON, but a key count).
    for (let i = 0; i < 5; i++) {
      expect(jsonShapeProblem('{"a":1,"b":2,"c":3}', limits)).toBeUndefined();
      expect(jsonShapeProblem('"a":1,"b":2,"c":3', limits)).toBeUndefined();
    }
    expect(jsonShapeProblem('{"a":1,"b":2,"c":3,"d":4}', limits)).toBe('an object in the message has more than 3 keys');
    expect(jsonShapeProblem('[{"a":1},{"b":2,"c":3,"d":4,"e":5}]', limits)).toBe(
      'an object in the message has more than 3 keys',
    );
    expect(jsonShapeProblem('[{"a":1,"b":2,"c":3},{"d":4}]', limits)).toBeUndefined();
  });

  it('parseBounded tells shape, invalid and value apart', () => {
    expect(parseBounded('[[[[[1]]]]]', L)).toEqual({ shape: 'message nests deeper than 4 levels' });
    expect(parseBounded('{"a":', L)).toEqual({ invalid: true });
    expect(parseBounded('{"a":[1]}', L)).toEqual({ value: { a: [1] } });
  });
});

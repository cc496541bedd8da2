import { describe, expect, it } from 'vitest';
import { ResultEstimator } from './result-estimate.js';

describe('ResultEstimator', () => {
  it('reserves the default for a key never seen, then the nearest-rank p95 of recent results', () => {
    const e = new ResultEstimator({ defaultTokens: 1000 });
    expect(e.estimate('a')).toBe(1000);
    e.observe('a', 150);
    expect(e.estimate('a')).toBe(150);
    // 1..100: p95 by nearest rank is the 95th smallest.
    for (let i = 1; i <= 100; i++) e.observe('a', i);
    expect(e.estimate('a')).toBe(95);
    expect(e.estimate('b')).toBe(1000);
  });

  it('forgets results older than the window', () => {
    const e = new ResultEstimator({ defaultTokens: 1, window: 4 });
    for (const n of [900, 10, 10, 10]) e.observe('t', n);
    expect(e.estimate('t')).toBe(900);
    e.observe('t', 10);
    expect(e.estimate('t')).toBe(10);
  });

  it('never reserves less than one token (a spent budget still refuses)', () => {
    const e = new ResultEstimator({ defaultTokens: 5 });
    e.observe('empty', 0);
    e.observe('bad', Number.NaN);
    expect(e.estimate('empty')).toBe(1);
    expect(e.estimate('bad')).toBe(1);
  });

  it('keeps at most maxKeys keys, dropping the least recently observed', () => {
    const e = new ResultEstimator({ defaultTokens: 7, maxKeys: 2 });
    e.observe('a', 1);
    e.observe('b', 2);
    e.observe('a', 1); // a is now the most recent
    e.observe('c', 3);
    expect(e.size).toBe(2);
    expect(e.estimate('b')).toBe(7);
    expect(e.estimate('a')).toBe(1);
    expect(e.estimate('c')).toBe(3);
  });

  it('rejects options it cannot work with', () => {
    expect(() => new ResultEstimator({ defaultTokens: 0 })).toThrow(RangeError);
    expect(() => new ResultEstimator({ defaultTokens: 1, window: 0 })).toThrow(RangeError);
    expect(() => new ResultEstimator({ defaultTokens: 1, percentile: 0 })).toThrow(RangeError);
  });
});

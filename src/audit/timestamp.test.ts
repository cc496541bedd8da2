import { describe, expect, it } from 'vitest';
import { isoTimestamp } from './timestamp.js';

describe('isoTimestamp', () => {
  it('is what toISOString says, within a second, across seconds and for odd times', () => {
    const base = Date.UTC(2026, 11, 31, 23, 59, 59);
    const times = [base, base + 1, base + 9, base + 10, base + 99, base + 100, base + 999, base + 1000, base + 5];
    times.push(0, -1, -1001, 253402300799999, 1.5, Date.now());
    for (const t of times) expect(isoTimestamp(t)).toBe(new Date(t).toISOString());
  });
});

import { describe, expect, it } from 'vitest';
import { BalanceState, pick, type Candidate } from './balance.js';

const replica = (key: string, over: Partial<Candidate> = {}): Candidate => ({
  key,
  usable: true,
  connected: true,
  assigned: 0,
  weight: 1,
  ...over,
});
const many = (n: number, f: () => Candidate | undefined): string[] =>
  Array.from({ length: n }, () => f()?.key ?? 'none');

describe('pick', () => {
  it('least_sessions takes the replica with fewest sessions, rotating ties', () => {
    const st = new BalanceState();
    expect(
      pick(
        [replica('a', { assigned: 3 }), replica('b', { assigned: 1 }), replica('c', { assigned: 2 })],
        'least_sessions',
        'k',
        st,
      )?.key,
    ).toBe('b');
    const tied = [replica('a'), replica('b')];
    expect(new Set(many(2, () => pick(tied, 'least_sessions', 'k', st)))).toEqual(new Set(['a', 'b']));
  });

  it('skips replicas that are not usable, and gives none when none is', () => {
    const st = new BalanceState();
    const rs = [replica('a', { usable: false }), replica('b')];
    for (const s of ['least_sessions', 'round_robin', 'weighted', 'consistent_hash'] as const)
      expect(pick(rs, s, 'k', st)?.key).toBe('b');
    expect(pick([replica('a', { usable: false, connected: false })], 'round_robin', 'k', st)).toBeUndefined();
  });

  it('with no usable replica, falls back to connected ones (panic routing)', () => {
    const st = new BalanceState();
    const rs = [replica('a', { usable: false, connected: false }), replica('b', { usable: false })];
    expect(pick(rs, 'least_sessions', 'k', st)?.key).toBe('b');
  });

  it('round_robin cycles', () => {
    const st = new BalanceState();
    const rs = [replica('a'), replica('b'), replica('c')];
    expect(many(6, () => pick(rs, 'round_robin', 'k', st))).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('weighted spreads by weight, interleaved', () => {
    const st = new BalanceState();
    const rs = [replica('a', { weight: 5 }), replica('b'), replica('c')];
    const seq = many(7, () => pick(rs, 'weighted', 'k', st));
    expect(seq.filter((k) => k === 'a')).toHaveLength(5);
    expect(seq.join('')).not.toContain('aaaaa');
  });

  it('consistent_hash keeps a key on its replica, and only moves the keys of a replica that leaves', () => {
    const st = new BalanceState();
    const rs = [replica('a'), replica('b'), replica('c')];
    const keys = Array.from({ length: 60 }, (_, i) => `agent-${i}`);
    const before = new Map(keys.map((k) => [k, pick(rs, 'consistent_hash', k, st)?.key]));
    expect(new Set(before.values()).size).toBe(3);
    const without = [rs[0]!, { ...rs[1]!, usable: false }, rs[2]!];
    for (const k of keys) {
      const now = pick(without, 'consistent_hash', k, st)?.key;
      if (before.get(k) !== 'b') expect(now).toBe(before.get(k));
      else expect(now).not.toBe('b');
    }
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from './memory-store.js';
import { reserve } from './reservation.js';
import type { CheckResult, LimitKey, LimitStore } from './store.js';
import { clock } from '../../test/fixtures/limits-sequences.js';

const budget = { key: 'agent1:tokens', limit: 1000, periodMs: 60_000, tag: 'agent1' };
const calls: LimitKey = { key: 'agent1:calls', limit: 10, periodMs: 1000, cost: 1, tag: 'agent1' };
let store: MemoryStore;
const left = async (k: Omit<LimitKey, 'cost'> = budget) =>
  (await store.peek([{ ...k, cost: 0 }])).results[0]!.remaining;

afterEach(async () => store?.close());

describe('reserve / settle / cancel', () => {
  it('settle charges the overrun or refunds the rest, exactly once', async () => {
    store = new MemoryStore({ now: clock().now });
    const a = await reserve(store, [budget], 100);
    expect(a.allowed).toBe(true);
    expect(await left()).toBe(900);
    await a.settle(150);
    expect(await left()).toBe(850);
    await a.settle(0);
    await a.cancel();
    expect(await left()).toBe(850);
    const b = await reserve(store, [budget], 100);
    await b.settle(40);
    expect(await left()).toBe(810);
    await b.settle(40);
    expect(await left()).toBe(810);
  });

  it('cancel refunds the estimate and the fixed keys, exactly once', async () => {
    store = new MemoryStore({ now: clock().now });
    await store.check({
      keys: [
        { ...budget, cost: 500 },
        { ...calls, cost: 5 },
      ],
    });
    const r = await reserve(store, [budget], 200, [calls]);
    expect([await left(), await left(calls)]).toEqual([300, 4]);
    await Promise.all([r.cancel(), r.cancel(), r.settle(10)]); // racing error paths: one wins
    expect([await left(), await left(calls)]).toEqual([500, 5]);
  });

  it('settle leaves fixed keys charged; an overrun can push the budget into debt', async () => {
    store = new MemoryStore({ now: clock().now });
    const r = await reserve(store, [budget], 900, [calls]);
    await r.settle(1500);
    expect(await left()).toBe(0);
    expect(await left(calls)).toBe(9);
    const next = await reserve(store, [budget], 1);
    expect(next.allowed).toBe(false);
    expect(next.result.retryAfterMs).toBe(30_060); // 501 tokens of debt+cost at 60 ms each
  });

  it('a denied reservation charges nothing, and its settle/cancel are no-ops', async () => {
    store = new MemoryStore({ now: clock().now });
    await store.check({ keys: [{ ...budget, cost: 950 }] });
    const r = await reserve(store, [budget], 100, [calls]);
    expect(r.allowed).toBe(false);
    expect(r.result.reason).toBe('limited');
    await r.cancel();
    await r.settle(0);
    expect([await left(), await left(calls)]).toEqual([50, 10]);
  });

  it('an invalid actual keeps the estimate; fractions round up', async () => {
    store = new MemoryStore({ now: clock().now });
    await (await reserve(store, [budget], 100)).settle(Number.NaN);
    expect(await left()).toBe(900);
    await (await reserve(store, [budget], 100)).settle(-5);
    expect(await left()).toBe(800);
    await (await reserve(store, [budget], 100)).settle(10.2);
    expect(await left()).toBe(789);
  });

  it('never throws from settle/cancel, and charges nothing back when nothing was charged', async () => {
    const seen: string[] = [];
    const fake = (via: CheckResult['via']): LimitStore => ({
      check: async (req) => ({
        allowed: true,
        retryAfterMs: 0,
        results: req.keys.map((k) => ({ key: k.key, limit: k.limit, remaining: 0, resetMs: 0, allowed: true })),
        via,
      }),
      peek: async () => {
        throw new Error('unused');
      },
      refund: async (_k, v) => {
        seen.push(`refund:${v}`);
        if (v !== 'none') throw new Error('redis down');
      },
      charge: async (_k, v) => {
        seen.push(`charge:${v}`);
        throw new Error('redis down');
      },
      acquire: async () => ({ ok: true, release: async () => {} }),
      close: async () => {},
    });
    const a = await reserve(fake('store'), [budget], 10);
    await expect(a.settle(20)).resolves.toBeUndefined();
    const b = await reserve(fake('fallback'), [budget], 10);
    await expect(b.cancel()).resolves.toBeUndefined();
    const c = await reserve(fake('none'), [budget], 10);
    await c.cancel();
    expect(seen).toEqual(['charge:store', 'refund:fallback', 'refund:none']);
  });

  it('on a store that answers in the calling turn, reserves without a promise; its refusals still reject', async () => {
    store = new MemoryStore({ now: clock().now });
    const r = reserve(store, [budget], 100, [calls]);
    expect(r).not.toBeInstanceOf(Promise);
    expect([await left(), await left(calls)]).toEqual([900, 9]);
    // An invalid key is a programming error: rejected as store.check rejects it, not thrown at the caller.
    const bad = reserve(store, [{ ...budget, limit: 0 }], 1);
    expect(bad).toBeInstanceOf(Promise);
    await expect(bad).rejects.toThrow(RangeError);
  });
});

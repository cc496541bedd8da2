import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from './memory-store.js';
import { T0, clock, sequences, type Step } from '../../test/fixtures/limits-sequences.js';

const stores: MemoryStore[] = [];
function mem(now: () => number): MemoryStore {
  const s = new MemoryStore({ now, sweepIntervalMs: 0 });
  stores.push(s);
  return s;
}
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});
const run = async (name: keyof typeof sequences): Promise<Step[]> => {
  const c = clock();
  return sequences[name]!(mem(c.now), c, (n) => n);
};
const r = (remaining: number, resetMs: number, allowed = true) => ({ remaining, resetMs, allowed });
const pick = (s: Step) => ({
  allowed: s.allowed,
  retryAfterMs: s.retryAfterMs,
  reason: s.reason,
  results: s.results.map(({ remaining, resetMs, allowed }) => r(remaining, resetMs, allowed)),
});

describe('GCRA (memory store)', () => {
  it('10/s: burst of 10, 11th denied, then exactly one per 100 ms; no second burst at the boundary', async () => {
    const out = await run('edge');
    for (let i = 0; i < 10; i++)
      expect(pick(out[i]!)).toEqual({
        allowed: true,
        retryAfterMs: 0,
        reason: undefined,
        results: [r(9 - i, 100 * (i + 1))],
      });
    expect(pick(out[10]!)).toEqual({
      allowed: false,
      retryAfterMs: 100,
      reason: 'limited',
      results: [r(0, 1000, false)],
    });
    expect(pick(out[11]!)).toMatchObject({ allowed: false, retryAfterMs: 1 }); // t=99
    expect(pick(out[12]!)).toMatchObject({ allowed: true, results: [r(0, 1000)] }); // t=100
    expect(pick(out[13]!)).toMatchObject({ allowed: false, retryAfterMs: 100 });
    expect(out[14]!.retryAfterMs).toBe(9); // at t=1000 only the 9 replenished since, not 10 fresh
    expect(pick(out[15]!)).toEqual({ allowed: true, retryAfterMs: 0, reason: undefined, results: [r(10, 0)] });
  });

  it('3/s (T = 333.33 ms): exact spacing, no drift, at most burst + rate·W in any window W', async () => {
    const out = await run('thirds');
    expect(out.slice(0, 4).map((s) => s.allowed)).toEqual([true, true, true, false]);
    expect(out[3]!.retryAfterMs).toBe(334);
    expect(pick(out[4]!)).toMatchObject({ allowed: false, retryAfterMs: 1 }); // t=333
    expect(out[5]!.allowed).toBe(true); // t=334
    const at = (out.at(-1) as Step & { admittedAt: number[] }).admittedAt;
    const expected = [0, 0, 0, ...Array.from({ length: 15 }, (_, k) => Math.ceil(((k + 1) * 1000) / 3))];
    expect(at).toEqual(expected); // 18 in 5 s: 3 burst + exactly 3/s, last one at t=5000
    for (const w of [1, 100, 1000, 2500]) {
      for (const start of at)
        expect(at.filter((t) => t >= start && t < start + w).length).toBeLessThanOrEqual(
          3 + Math.floor((w * 3) / 1000),
        );
    }
  });

  it('charges integer costs; cost above the limit is never admissible', async () => {
    const out = (await run('costs')).map(pick);
    expect(out.slice(0, 3).map((s) => s.results[0])).toEqual([r(70, 18_000), r(40, 36_000), r(10, 54_000)]);
    expect(out[3]).toEqual({
      allowed: false,
      retryAfterMs: 12_000,
      reason: 'limited',
      results: [r(10, 54_000, false)],
    });
    expect(out[4]).toEqual({
      allowed: false,
      retryAfterMs: -1,
      reason: 'cost_exceeds_limit',
      results: [r(10, 54_000, false)],
    });
    expect(out[5]).toMatchObject({ allowed: true, results: [r(0, 60_000)] });
    expect(out[6]).toMatchObject({ allowed: true, results: [r(0, 60_000)] }); // cost 0 always passes
  });

  it('all-or-nothing across keys; denied keys are named and nothing is charged', async () => {
    const out = (await run('allOrNothing')).map(pick);
    expect(out[1]!.results).toEqual([r(3, 400), r(0, 1000)]);
    expect(out[2]).toEqual({
      allowed: false,
      retryAfterMs: 500,
      reason: 'limited',
      results: [r(3, 400, true), r(0, 1000, false)],
    });
    expect(out[3]).toEqual(out[2]); // peek: a was not charged by the denied check
    expect(out[4]).toMatchObject({ allowed: false, retryAfterMs: -1, reason: 'cost_exceeds_limit' });
    expect(out[5]).toMatchObject({ allowed: false, retryAfterMs: -1, results: [r(1, 0, true), r(1, 0, false)] });
    expect(out[6]).toMatchObject({ allowed: true, results: [r(1, 0)] });
  });

  it('a bucket listed twice is decided against its own earlier charge, all or nothing', async () => {
    const s = mem(clock().now);
    const a = { key: 'a', tag: 't', limit: 5, periodMs: 1000, cost: 1 }; // T = 200 ms
    const b = { key: 'b', tag: 't', limit: 5, periodMs: 1000, cost: 1 };
    // Admitted: a is charged for both listings, and each listing shows the bucket's final state.
    expect(pick(await s.check({ keys: [a, b, { ...a, cost: 2 }] }))).toEqual({
      allowed: true,
      retryAfterMs: 0,
      reason: undefined,
      results: [r(2, 600), r(4, 200), r(2, 600)],
    });
    // The second listing does not fit after the first (3 + 1 + 2 > 5): nothing is charged.
    expect(pick(await s.check({ keys: [a, b, { ...a, cost: 2 }] }))).toEqual({
      allowed: false,
      retryAfterMs: 200,
      reason: 'limited',
      results: [r(2, 600), r(4, 200), r(2, 600, false)],
    });
    expect(pick(await s.peek([a, b]))).toMatchObject({ results: [r(2, 600), r(4, 200)] });
    // Listings that together cost more than the limit can never pass (each alone would, in time).
    expect(
      pick(
        await s.check({
          keys: [
            { ...a, cost: 3 },
            { ...a, cost: 3 },
          ],
        }),
      ),
    ).toMatchObject({
      allowed: false,
      retryAfterMs: -1,
      reason: 'cost_exceeds_limit',
    });
  });

  it('refunds move the TAT back by cost·T, never before now; charges can go into debt', async () => {
    const out = (await run('refunds')).map(pick);
    expect(out[0]!.results).toEqual([r(8, 200)]);
    expect(out[1]!.results).toEqual([r(10, 0)]);
    expect(out[2]!.results).toEqual([r(10, 0)]);
    expect(out[3]).toMatchObject({ allowed: false, results: [r(0, 1500, false)] });
    expect(out[4]).toMatchObject({ allowed: false, retryAfterMs: 600 });
    expect(out[5]!.results).toEqual([r(2, 334)]); // 3/s: 2 charged, 1 refunded → 1/3 s of use left
    expect(out[6]!.results).toEqual([r(1, 477)]);
    expect(out[7]!.results).toEqual([r(3, 477)]);
  });

  it('is the same over a long run for any clock (no float drift at large epochs)', async () => {
    const c = clock();
    const s = mem(c.now);
    const key = { key: 'big', limit: 7, periodMs: 86_400_000, cost: 1 };
    let n = 0;
    for (let day = 0; day < 400; day++) {
      c.t = T0 + day * 86_400_000;
      while ((await s.check({ keys: [key] })).allowed) n++;
    }
    expect(n).toBe(7 * 400);
  });

  it('drops idle buckets and dead leases', async () => {
    const c = clock();
    const s = mem(c.now);
    for (let i = 0; i < 100; i++) await s.check({ keys: [{ key: `k${i}`, limit: 5, periodMs: 1000, cost: 1 }] });
    await s.acquire('lease', 2, 500);
    expect(s.size()).toBe(101);
    c.t += 199;
    expect(s.sweep()).toBe(101);
    c.t += 1000;
    expect(s.sweep()).toBe(0);
  });

  it('rejects inputs the arithmetic cannot handle', async () => {
    const s = mem(Date.now);
    await expect(s.check({ keys: [{ key: 'x', limit: 0, periodMs: 1000, cost: 1 }] })).rejects.toThrow(RangeError);
    await expect(s.check({ keys: [{ key: 'x', limit: 1, periodMs: 1000, cost: 1.5 }] })).rejects.toThrow(RangeError);
    await expect(s.check({ keys: [{ key: 'x', limit: 1, periodMs: 2 ** 40, cost: 2 ** 20 }] })).rejects.toThrow(
      /too large/,
    );
  });
});

describe('concurrency limiter (memory store)', () => {
  it('admits max leases, frees on release (idempotent) and on TTL', async () => {
    const c = clock();
    const s = mem(c.now);
    const a = await s.acquire('agent1', 2, 1000);
    const b = await s.acquire('agent1', 2, 1000);
    const d = await s.acquire('agent1', 2, 1000);
    expect([a.ok, b.ok, d.ok]).toEqual([true, true, false]);
    expect((await s.acquire('agent2', 2, 1000)).ok).toBe(true);
    await a.release();
    await a.release(); // a second release must not free b's slot
    await d.release(); // releasing a refused lease is a no-op
    expect((await s.acquire('agent1', 2, 1000)).ok).toBe(true);
    expect((await s.acquire('agent1', 2, 1000)).ok).toBe(false);
    c.t += 1000; // leaked leases (a dead gateway) expire
    expect((await s.acquire('agent1', 2, 1000)).ok).toBe(true);
  });
});

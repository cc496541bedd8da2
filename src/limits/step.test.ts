// The limits step's tool-result token budget: what a call reserves, when it is refused, and the
// exact worst case when results come back larger than their estimate (README "Token budgets").
import { describe, expect, it } from 'vitest';
import type { McpCall } from '../relay/scope.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { JsonRpcResponse } from '../mcp/jsonrpc.js';
import { MemoryStore } from './memory-store.js';
import { compileAgentLimits } from './plan.js';
import { agentLimitsSchema } from './schema.js';
import { limitsStep } from './step.js';
import type { LimitStore } from './store.js';
import type { TokenCounter } from './token-counter.js';

const BUDGET = 2000;
const CALLS = 64;
const budgetKey = {
  key: 'a:tester:tok:86400000',
  tag: 'tester',
  limit: BUDGET,
  periodMs: 86_400_000,
  cost: 0,
};
// One token per character: result sizes are exact and obvious.
const counter: TokenCounter = {
  count: async (t) => t.length,
  countEach: (ts) => ts.map((t) => t.length),
  warm: () => undefined,
  close: async () => undefined,
};

function setup(
  defaultResultEstimate: number,
  extra: Record<string, unknown> = {},
  wrap: (s: MemoryStore) => LimitStore = (s) => s,
) {
  const memory = new MemoryStore({ now: () => 1_000_000, sweepIntervalMs: 0 }); // frozen clock: no refill
  const store = wrap(memory);
  const limits = compileAgentLimits(agentLimitsSchema.parse({ tokens: [{ limit: BUDGET, per: '1d' }], ...extra }));
  const policies = { limitsFor: () => limits } as Pick<PolicySet, 'limitsFor'> as PolicySet;
  const step = limitsStep({
    store,
    policies: () => policies,
    serverRates: () => [],
    global: [],
    tokenCounter: counter,
    defaultResultEstimate,
    concurrencyTtlMs: 60_000,
  });
  let id = 0;
  const call = (tool = 'srv__read'): McpCall =>
    ({
      scope: { agentId: 'tester', identity: { id: 'tester' } } as McpCall['scope'], // the step reads only the agent and its groups
      request: { jsonrpc: '2.0', id: ++id, method: 'tools/call', params: { name: tool } },
      target: { server: 'srv', native: tool.slice(5), kind: 'tool', canonical: tool, args: {} },
    }) as McpCall;
  const result = (tokens: number): JsonRpcResponse => ({
    jsonrpc: '2.0',
    id: 0,
    result: { content: [{ type: 'text', text: 'x'.repeat(tokens) }] },
  });
  // Tokens charged, debt included: the bucket is full again after charged × (period / limit) ms.
  const used = async (): Promise<number> =>
    ((await store.peek([budgetKey])).results[0]!.resetMs * BUDGET) / budgetKey.periodMs;

  /**
   * CALLS concurrent calls whose results (`tokens` each) are held until every call was admitted or
   * refused: the worst interleaving, where no result is counted before the last admission.
   */
  async function burst(tokens: number): Promise<{ admitted: number; refused: JsonRpcResponse[] }> {
    let decided = 0;
    let admitted = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const refused: JsonRpcResponse[] = [];
    const decide = (): void => {
      if (++decided === CALLS) release();
    };
    await Promise.all(
      Array.from({ length: CALLS }, () =>
        step(call(), async () => {
          admitted++;
          decide();
          await gate;
          return result(tokens);
        }).then((r) => {
          if ('error' in r) {
            refused.push(r);
            decide();
          }
        }),
      ),
    );
    return { admitted, refused };
  }
  return { step, call, result, used, burst, store };
}

describe('tool-result token budget', () => {
  it('reserves the learned p95: 64 concurrent calls never charge more than the budget', async () => {
    const s = setup(1000);
    await s.step(s.call(), async () => s.result(150)); // learns 150 for tester × srv__read
    const { admitted, refused } = await s.burst(150);
    expect(admitted).toBe(12); // ⌊(2000 − 150) / 150⌋
    expect(await s.used()).toBe(13 * 150); // 1950 ≤ 2000 (it was 64 × 150 + 150 = 9750 reserving 1 token)
    expect(refused).toHaveLength(CALLS - 12);
    expect(refused[0]).toMatchObject({
      error: {
        code: -32028,
        message: 'token budget spent (agent tokens 2000/1d): this call reserves 150 tokens for its result',
      },
    });
  });

  it('bounds the overshoot of under-estimated results by calls admitted together × (actual − estimate)', async () => {
    const s = setup(50); // never-seen tool: reserves the default, 50; the results are 150
    const { admitted } = await s.burst(150);
    expect(admitted).toBe(BUDGET / 50); // 40 reservations fit at once
    // Charged: the budget plus exactly 40 × (150 − 50) — the documented worst case.
    expect(await s.used()).toBe(BUDGET + 40 * (150 - 50));
  });

  it('caps the estimate at the budget, so a big default never makes a tool uncallable', async () => {
    const s = setup(1_000_000);
    const r = await s.step(s.call(), async () => s.result(30));
    expect('result' in r).toBe(true);
    expect(await s.used()).toBe(30);
  });

  it('gives the estimate back when the call throws, and charges 0 for an error response', async () => {
    const s = setup(500);
    await expect(
      s.step(s.call(), async () => {
        throw new Error('relay failed');
      }),
    ).rejects.toThrow('relay failed');
    await s.step(s.call(), async () => ({ jsonrpc: '2.0', id: 1, error: { code: -32050, message: 'down' } }));
    expect(await s.used()).toBe(0);
  });
});

/** The memory store answering only in promises, as the Redis store does (no checkNow). */
const promised = (s: MemoryStore): LimitStore => ({
  check: (r) => s.check(r),
  peek: (k) => s.peek(k),
  refund: (k, via) => s.refund(k, via),
  charge: (k, via) => s.charge(k, via),
  acquire: (k, max, ttl) => s.acquire(k, max, ttl),
  close: () => s.close(),
});

describe('request limits', () => {
  const requestsOnly = { tokens: [], requests: [{ limit: 2, per: '1m' }] };

  it.each([
    ['at once (memory store)', (s: MemoryStore): LimitStore => s],
    ['in a promise (Redis store)', promised],
  ])('admit up to the limit, then refuse with the retry time, for a store answering %s', async (_, wrap) => {
    const s = setup(100, requestsOnly, wrap);
    const ok = s.result(1);
    const out: JsonRpcResponse[] = [];
    for (let i = 0; i < 3; i++) out.push(await s.step(s.call(), async () => ok));
    expect(out.slice(0, 2)).toEqual([ok, ok]);
    expect(out[2]).toMatchObject({
      error: {
        code: -32029,
        message: 'rate limit reached (agent requests 2/1m)',
        data: { retryAfterSeconds: 30, limit: 'agent requests 2/1m', remaining: 0 },
      },
    });
    // The same bucket as the admin usage page sees it, through a key object of its own.
    const bucket = { key: 'a:tester:req:60000', tag: 'tester', limit: 2, periodMs: 60_000, cost: 0 };
    expect((await s.store.peek([bucket])).results[0]).toMatchObject({ remaining: 0, resetMs: 60_000 });
  });

  it('a failure before the check rejects the returned promise; it never throws at the caller', async () => {
    const step = limitsStep({
      store: new MemoryStore({ sweepIntervalMs: 0 }),
      policies: () => {
        throw new Error('no policies');
      },
      serverRates: () => [],
      global: [],
      tokenCounter: undefined,
      defaultResultEstimate: 100,
      concurrencyTtlMs: 60_000,
    });
    const s = setup(100, requestsOnly);
    let p: Promise<JsonRpcResponse> | undefined;
    expect(() => {
      p = step(s.call(), async () => s.result(1));
    }).not.toThrow();
    await expect(p).rejects.toThrow('no policies');
  });
});

// LLM token budgets count every multiplier (issue 14, item 2): OpenAI `n` (and `best_of`), both
// `max_tokens` and `max_completion_tokens`, `default_max_tokens` times n when none is given,
// embeddings input arrays (token-id arrays count their length), Anthropic `max_tokens` — through
// the real `openai` and `@anthropic-ai/sdk` clients, 64 at once, on the memory store and on Redis.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import pino from 'pino';
import { Redis } from 'ioredis';
import { AGENT_KEY, MockLlm, startLlmGateway, type LlmTestGateway } from '../fixtures/mock-llm.js';
import { parseConfigText } from '../../src/config/load.js';
import { openLimitStore } from '../../src/limits/open.js';
import type { LimitStore } from '../../src/limits/store.js';
import { ensureRedis, REDIS_HOST, REDIS_PORT } from '../helpers/redis.js';

const BUDGET = 10_000;
const PERIOD_MS = 30 * 86_400_000;
const BUDGET_KEY = {
  key: `a:tester:tok:${PERIOD_MS}`,
  tag: 'tester',
  limit: BUDGET,
  periodMs: PERIOD_MS,
  cost: 0,
};
const CALLS = 64;
// [{role: user, content: 'hi'}] is 8 prompt tokens for gpt-4o: 1 for 'hi', 4 per message, 3 per reply.
const HI = [{ role: 'user' as const, content: 'hi' }];
const HI_TOKENS = 8;

const redis = await ensureRedis();
const prefixes: string[] = [];
let mock: MockLlm;
beforeAll(async () => {
  mock = await MockLlm.start();
});
beforeEach(() => mock.reset());
afterAll(async () => {
  await mock?.close();
  if (redis && prefixes.length > 0) {
    const admin = new Redis({ host: REDIS_HOST, port: REDIS_PORT });
    for (const p of prefixes) {
      const keys = await admin.keys(`${p}*`);
      if (keys.length > 0) await admin.del(...keys);
    }
    admin.disconnect();
  }
});

async function limitStore(kind: 'memory' | 'redis'): Promise<LimitStore | undefined> {
  if (kind === 'memory') return undefined; // the fixture's own
  const prefix = `tgtest-budgets-llm-${randomBytes(4).toString('hex')}:`;
  prefixes.push(prefix);
  const { config } = parseConfigText(
    `upstreams: { unused: { transport: streamable_http, url: "http://127.0.0.1:1/mcp" } }\nlimits: { store: redis, redis: { url: "redis://${REDIS_HOST}:${REDIS_PORT}", prefix: "${prefix}", timeout: 2s, failure_mode: fail_closed } }\n`,
    `${process.cwd()}/test-config.yaml`,
    {},
  );
  return openLimitStore(config.limits, pino({ level: 'silent' }));
}

async function gateway(kind: 'memory' | 'redis'): Promise<LlmTestGateway> {
  const store = await limitStore(kind);
  return startLlmGateway(
    {
      upstreams: {
        oa: { kind: 'openai', base_url: `${mock.url}/v1`, models: ['gpt-4o', 'text-embedding-3-small'] },
        an: { kind: 'anthropic', base_url: mock.url, models: ['claude-sonnet-4-5'] },
      },
      default_max_tokens: 1000,
    },
    {
      policy: `agent: tester\nmodels: { allow: ["*"] }\nlimits:\n  tokens: [{ limit: ${BUDGET}, per: 30d }]\n`,
      ...(store ? { store } : {}),
    },
  );
}

async function remaining(gw: LlmTestGateway): Promise<number> {
  return (await gw.store.peek([BUDGET_KEY])).results[0]!.remaining;
}
const charged = (gw: LlmTestGateway): number =>
  gw.records.reduce((sum, r) => sum + (r['tollgate.tokens.charged'] ?? 0), 0);

/** CALLS concurrent calls: how many succeeded, and the errors of the others. */
async function burst(call: () => Promise<unknown>): Promise<{ ok: number; errors: unknown[] }> {
  const out = await Promise.all(
    Array.from({ length: CALLS }, () =>
      call().then(
        () => undefined,
        (e: unknown) => e ?? new Error('rejected'),
      ),
    ),
  );
  const errors = out.filter((e) => e !== undefined);
  return { ok: CALLS - errors.length, errors };
}

describe.each(['memory', 'redis'] as const)('LLM budget multipliers, %s store', (kind) => {
  const skip = kind === 'redis' && !redis;
  let gw: LlmTestGateway;
  let openai: OpenAI;
  beforeEach(async () => {
    if (skip) return;
    gw = await gateway(kind);
    openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: AGENT_KEY, maxRetries: 0 });
    return () => gw.close();
  });

  it.skipIf(skip)(
    '64 concurrent chat completions with max_tokens 100, n 50 on a 10 000-token budget: exactly one runs',
    async () => {
      // The upstream uses every token it was allowed: 50 choices × 100.
      mock.fallback = { kind: 'default', usage: { input: HI_TOKENS, output: 50 * 100 } };
      const { ok, errors } = await burst(() =>
        openai.chat.completions.create({ model: 'gpt-4o', max_tokens: 100, n: 50, messages: HI }),
      );
      expect(ok).toBe(1); // 8 + 50 × 100 = 5 008 reserved; a second would need 10 016
      expect(mock.requests).toHaveLength(1);
      for (const e of errors) {
        expect(e).toBeInstanceOf(OpenAI.RateLimitError);
        expect((e as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ code: 'budget_exceeded' });
      }
      const e = errors[0] as InstanceType<typeof OpenAI.APIError>;
      expect(Number(e.headers?.get('retry-after'))).toBeGreaterThan(0);
      expect(e.headers?.get('ratelimit-remaining')).toBe(String(BUDGET - 5008));
      expect(charged(gw)).toBe(5008);
      expect(await remaining(gw)).toBe(BUDGET - 5008);
    },
    60_000,
  );

  it.skipIf(skip)(
    'reserves n × the largest of max_tokens and max_completion_tokens, and n × default_max_tokens when none is given',
    async () => {
      const never = async (body: Record<string, unknown>): Promise<string> => {
        const err = (await openai.chat.completions
          .create({ model: 'gpt-4o', messages: HI, ...body })
          .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
        expect(err).toBeInstanceOf(OpenAI.RateLimitError);
        expect(err.headers?.get('retry-after')).toBeNull(); // it can never fit
        return (err.error as { message: string }).message;
      };
      expect(await never({ max_completion_tokens: 2500, n: 4 })).toBe(
        'the request needs up to 10008 tokens (prompt 8 + 4 × 2500 output), more than the budget allows (agent tokens 10000/30d); lower max_tokens or n',
      );
      expect(await never({ max_completion_tokens: 10, max_tokens: 5000, n: 2 })).toMatch(/prompt 8 \+ 2 × 5000 output/);
      expect(await never({ n: 10 })).toMatch(/needs up to 10008 tokens \(prompt 8 \+ 10 × 1000 output\)/);
      expect(await never({ max_tokens: 1000, best_of: 10 })).toMatch(/10 × 1000 output/);
      expect(mock.requests).toHaveLength(0);
      expect(await remaining(gw)).toBe(BUDGET);
      // What fits runs, and is settled to the reported usage.
      mock.next({ kind: 'default', usage: { input: HI_TOKENS, output: 42 } });
      await openai.chat.completions.create({ model: 'gpt-4o', messages: HI, n: 9 }); // reserves 9 008
      expect(await remaining(gw)).toBe(BUDGET - 50);
    },
    60_000,
  );

  it.skipIf(skip)('refuses absurd multipliers and ceilings with a 400 before anything is reserved', async () => {
    for (const [body, message] of [
      [{ n: 1000 }, 'n must be an integer from 1 to 128'],
      [{ n: 0 }, 'n must be an integer from 1 to 128'],
      [{ n: 2.5 }, 'n must be an integer from 1 to 128'],
      [{ n: '5' }, 'n must be an integer from 1 to 128'],
      [{ best_of: 129 }, 'best_of must be an integer from 1 to 128'],
      [{ max_tokens: -1 }, 'max_tokens must be an integer from 0 to 100000000'],
      [{ max_completion_tokens: 1e300 }, 'max_completion_tokens must be an integer from 0 to 100000000'],
    ] as const) {
      const err = (await openai.chat.completions
        .create({ model: 'gpt-4o', messages: HI, ...(body as object) })
        .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.error).toMatchObject({ type: 'invalid_request_error', message });
    }
    expect(mock.requests).toHaveLength(0);
    expect(await remaining(gw)).toBe(BUDGET);
    expect(gw.records.at(-1)).toMatchObject({ 'rpc.response.status_code': '400' });
  });

  it.skipIf(skip)(
    '64 concurrent embeddings of token-id arrays: every id counts, exactly the budget is admitted',
    async () => {
      const ids = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);
      mock.fallback = { kind: 'default', usage: { input: 200, output: 0 } };
      const { ok, errors } = await burst(() =>
        openai.embeddings.create({ model: 'text-embedding-3-small', input: [ids(120), ids(80)] }),
      );
      expect(ok).toBe(BUDGET / 200); // 50; reserving the ids as text let all 64 through (12 800)
      expect(errors.every((e) => e instanceof OpenAI.RateLimitError)).toBe(true);
      expect(charged(gw)).toBe(BUDGET);
      // A flat array of ids counts its length too.
      const err = (await openai.embeddings
        .create({ model: 'text-embedding-3-small', input: ids(BUDGET + 1) })
        .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect((err.error as { message: string }).message).toMatch(/needs up to 10001 tokens \(prompt 10001\)/);
    },
    60_000,
  );

  it.skipIf(skip)(
    '64 concurrent Anthropic messages reserve prompt + max_tokens: ⌊budget / reservation⌋ run',
    async () => {
      const anthropic = new Anthropic({ baseURL: gw.url, authToken: AGENT_KEY, apiKey: null, maxRetries: 0 });
      // Claude prompts are estimated at 4 characters a token: 'hi' is 1, plus the same framing (8).
      mock.fallback = { kind: 'default', usage: { input: 8, output: 1000 } };
      const { ok, errors } = await burst(() =>
        anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 1000, messages: HI }),
      );
      expect(ok).toBe(9); // ⌊10 000 / 1 008⌋
      expect(errors.every((e) => e instanceof Anthropic.RateLimitError)).toBe(true);
      expect(charged(gw)).toBe(9 * 1008);
      expect(await remaining(gw)).toBe(BUDGET - 9 * 1008);
    },
    60_000,
  );
});

// Routing across deployments: fallback, retries that honour retry-after, the circuit breaker's
// cooldown and probe, and weighted splits. Waits are measured with the mock's own timestamps.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import OpenAI from 'openai';
import { AGENT_KEY, MockLlm, startLlmGateway, type LlmTestGateway } from '../fixtures/mock-llm.js';
import type { LlmConfigInput, Strategy } from '../../src/llm/index.js';

let a: MockLlm;
let b: MockLlm;
let deadPort: number;
const gateways: LlmTestGateway[] = [];

beforeAll(async () => {
  a = await MockLlm.start();
  b = await MockLlm.start();
  // A port nothing listens on: connections are refused.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  deadPort = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
});
afterEach(async () => {
  a.reset();
  b.reset();
  await Promise.all(gateways.splice(0).map((g) => g.close()));
});
afterAll(async () => {
  await a?.close();
  await b?.close();
});

const ask = { messages: [{ role: 'user' as const, content: 'hi' }] };

async function gateway(
  llm: Omit<LlmConfigInput, 'upstreams'> & { upstreams?: LlmConfigInput['upstreams'] },
  now?: () => number,
): Promise<{ gw: LlmTestGateway; client: OpenAI }> {
  const gw = await startLlmGateway(
    {
      upstreams: {
        a: { kind: 'openai', base_url: `${a.url}/v1`, api_key: 'ka' },
        b: { kind: 'openai', base_url: `${b.url}/v1`, api_key: 'kb' },
      },
      retries: { backoff_base: 1, backoff_max: 5 },
      ...llm,
    } as LlmConfigInput,
    now ? { now } : {},
  );
  gateways.push(gw);
  return { gw, client: new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: AGENT_KEY, maxRetries: 0 }) };
}

const pool = (strategy: Strategy, wa = 1, wb = 1) => ({
  strategy,
  deployments: [
    { upstream: 'a', model: 'm-a', weight: wa, priority: 0 },
    { upstream: 'b', model: 'm-b', weight: wb, priority: 1 },
  ],
});

describe('LLM routing', () => {
  it('falls back to the next deployment when the first answers 500', async () => {
    const { gw, client } = await gateway({ models: { m: pool('priority') } });
    a.next({ kind: 'error', status: 500 });
    const res = await client.chat.completions.create({ model: 'm', ...ask });
    expect(res.model).toBe('m-b');
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(1);
    expect(b.requests[0]!.headers.authorization).toBe('Bearer kb');
    expect(gw.records.at(-1)).toMatchObject({
      'tollgate.upstream.name': 'b',
      'tollgate.target.native': 'm-b',
      'tollgate.outcome': 'ok',
    });
  });

  it('falls back when a deployment refuses connections', async () => {
    const { client } = await gateway({
      upstreams: {
        dead: { kind: 'openai', base_url: `http://127.0.0.1:${deadPort}/v1` },
        b: { kind: 'openai', base_url: `${b.url}/v1` },
      },
      models: {
        m: {
          strategy: 'priority',
          deployments: [
            { upstream: 'dead', model: 'x' },
            { upstream: 'b', model: 'm-b', priority: 1 },
          ],
        },
      },
    });
    expect((await client.chat.completions.create({ model: 'm', ...ask })).model).toBe('m-b');
  });

  it('retries a 429 no earlier than its retry-after-ms, and a 5xx after backoff', async () => {
    const { client } = await gateway({
      upstreams: { a: { kind: 'openai', base_url: `${a.url}/v1`, models: ['solo'] } },
    });
    a.next({ kind: 'error', status: 429, headers: { 'retry-after-ms': '300' } });
    await client.chat.completions.create({ model: 'solo', ...ask });
    expect(a.requests).toHaveLength(2);
    expect(a.requests[1]!.at - a.requests[0]!.answeredAt!).toBeGreaterThanOrEqual(300);
    a.reset();
    a.next({ kind: 'error', status: 503 });
    await client.chat.completions.create({ model: 'solo', ...ask });
    expect(a.requests).toHaveLength(2);
  });

  it('retries a dropped connection, but not a timeout (the upstream may still be working on it)', async () => {
    const { gw, client } = await gateway({
      upstreams: { a: { kind: 'openai', base_url: `${a.url}/v1`, models: ['solo'], timeouts: { first_byte: 100 } } },
    });
    a.next({ kind: 'drop' });
    await client.chat.completions.create({ model: 'solo', ...ask });
    expect(a.requests).toHaveLength(2);
    a.reset();
    a.next({ kind: 'hang' });
    const err = (await client.chat.completions
      .create({ model: 'solo', ...ask })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(504);
    expect(err.error).toMatchObject({ type: 'timeout', message: 'upstream a timed out' });
    expect(a.requests).toHaveLength(1);
    expect(gw.records.at(-1)).toMatchObject({
      'tollgate.decision': 'error',
      'tollgate.outcome': 'timeout',
      'rpc.response.status_code': '504',
    });
  });

  it('honours retry-after in seconds', async () => {
    const { client } = await gateway({
      upstreams: { a: { kind: 'openai', base_url: `${a.url}/v1`, models: ['solo'] } },
    });
    a.next({ kind: 'error', status: 429, headers: { 'retry-after': '1' } });
    await client.chat.completions.create({ model: 'solo', ...ask });
    expect(a.requests[1]!.at - a.requests[0]!.answeredAt!).toBeGreaterThanOrEqual(1000);
  });

  it('does not wait longer than max_retry_after: the 429 reaches the agent with its retry-after', async () => {
    const { client } = await gateway({
      upstreams: { a: { kind: 'openai', base_url: `${a.url}/v1`, models: ['solo'] } },
      retries: { max_retry_after: '1s' },
    });
    a.next({
      kind: 'error',
      status: 429,
      headers: { 'retry-after': '60' },
      body: { error: { message: 'slow down', type: 'requests', param: null, code: 'rate_limit_exceeded' } },
    });
    const err = (await client.chat.completions
      .create({ model: 'solo', ...ask })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.headers?.get('retry-after')).toBe('60');
    expect(err.error).toMatchObject({ message: 'slow down', code: 'rate_limit_exceeded' });
    expect(a.requests).toHaveLength(1);
  });

  it('cools a failing deployment down, then probes it back into service', async () => {
    let now = 1_000_000;
    const { client } = await gateway(
      { models: { m: pool('priority') }, circuit_breaker: { failures: 2, cooldown: '30s' } },
      () => now,
    );
    a.fallback = { kind: 'error', status: 500 };
    for (let i = 0; i < 6; i++)
      expect((await client.chat.completions.create({ model: 'm', ...ask })).model).toBe('m-b');
    // Two failures opened the circuit; the next four calls went straight to b.
    expect(a.requests).toHaveLength(2);
    expect(b.requests).toHaveLength(6);

    now += 29_999;
    await client.chat.completions.create({ model: 'm', ...ask });
    expect(a.requests).toHaveLength(2);

    now += 1; // cooldown over: one probe; it fails, so the circuit opens again
    await client.chat.completions.create({ model: 'm', ...ask });
    expect(a.requests).toHaveLength(3);
    await client.chat.completions.create({ model: 'm', ...ask });
    expect(a.requests).toHaveLength(3);

    now += 30_000; // a recovered: the probe succeeds and a takes the traffic again
    a.fallback = { kind: 'default' };
    for (let i = 0; i < 3; i++)
      expect((await client.chat.completions.create({ model: 'm', ...ask })).model).toBe('m-a');
    expect(a.requests).toHaveLength(6);
  });

  it('answers 503 in the API shape when every deployment is cooling down', async () => {
    let now = 0;
    const { client } = await gateway(
      {
        upstreams: { a: { kind: 'openai', base_url: `${a.url}/v1`, models: ['solo'] } },
        retries: { attempts: 1 },
        circuit_breaker: { failures: 1, cooldown: '10s' },
      },
      () => now,
    );
    a.fallback = { kind: 'error', status: 500 };
    await expect(client.chat.completions.create({ model: 'solo', ...ask })).rejects.toBeInstanceOf(
      OpenAI.InternalServerError,
    );
    now += 1000;
    const err = (await client.chat.completions
      .create({ model: 'solo', ...ask })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(503);
    expect(err.headers?.get('retry-after')).toBe('9');
    expect(err.error).toMatchObject({ type: 'api_error', message: 'no healthy deployment for model solo' });
    expect(a.requests).toHaveLength(1);
  });

  it('splits traffic by weight (3:1 over 300 calls)', async () => {
    const { client } = await gateway({ models: { m: pool('weighted_round_robin', 3, 1) } });
    for (let batch = 0; batch < 30; batch++)
      await Promise.all(Array.from({ length: 10 }, () => client.chat.completions.create({ model: 'm', ...ask })));
    const share = b.requests.length / (a.requests.length + b.requests.length);
    expect(a.requests.length + b.requests.length).toBe(300);
    expect(Math.abs(share - 0.25)).toBeLessThanOrEqual(0.07);
  });

  it('skips an upstream at max_concurrency', async () => {
    const { client } = await gateway({
      upstreams: {
        a: { kind: 'openai', base_url: `${a.url}/v1`, max_concurrency: 1 },
        b: { kind: 'openai', base_url: `${b.url}/v1` },
      },
      models: { m: pool('priority') },
    });
    let release!: () => void;
    a.next({ kind: 'default', gate: new Promise<void>((r) => (release = r)) });
    const s1 = await client.chat.completions.create({ model: 'm', stream: true, ...ask });
    expect((await client.chat.completions.create({ model: 'm', ...ask })).model).toBe('m-b');
    release();
    for await (const _ of s1) void _;
    expect((await client.chat.completions.create({ model: 'm', ...ask })).model).toBe('m-a');
  });

  it('least_latency prefers the deployment with the lower moving average', async () => {
    const { gw, client } = await gateway({ models: { m: pool('least_latency') } });
    // Unmeasured deployments are tried first, so the first two calls measure both.
    await client.chat.completions.create({ model: 'm', ...ask });
    await client.chat.completions.create({ model: 'm', ...ask });
    expect([a.requests.length, b.requests.length]).toEqual([1, 1]);
    const [ta, tb] = gw.routes.proxy.resolver.resolve('openai', 'm')!.members.map((m) => m.target);
    ta!.ewmaMs = 500;
    tb!.ewmaMs = 5;
    for (let i = 0; i < 3; i++)
      expect((await client.chat.completions.create({ model: 'm', ...ask })).model).toBe('m-b');
  });

  it('least_in_flight sends the next call to the idle deployment', async () => {
    const { client } = await gateway({ models: { m: pool('least_in_flight') } });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    a.next({ kind: 'default', gate });
    b.next({ kind: 'default', gate });
    // One stream held open on the first deployment picked; the next call must go to the other.
    const s1 = await client.chat.completions.create({ model: 'm', stream: true, ...ask });
    const first = a.requests.length === 1 ? a : b;
    const other = first === a ? b : a;
    await client.chat.completions.create({ model: 'm', ...ask });
    expect(other.requests).toHaveLength(1);
    release();
    for await (const _ of s1) void _;
  });
});

// Token budgets, request limits and the model allow-list on the LLM API, read back from the limit
// store and the audit log.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { AGENT_KEY, MockLlm, startLlmGateway, type LlmTestGateway } from '../fixtures/mock-llm.js';

const BUDGET = { key: 'a:tester:tok:86400000', tag: 'tester', limit: 1000, periodMs: 86_400_000, cost: 0 };

let mock: MockLlm;
let gw: LlmTestGateway;
let client: OpenAI;

async function remaining(g: LlmTestGateway): Promise<number> {
  const r = await g.store.peek([BUDGET]);
  return r.results[0]!.remaining;
}

beforeAll(async () => {
  mock = await MockLlm.start();
  gw = await startLlmGateway(
    {
      upstreams: { oa: { kind: 'openai', base_url: `${mock.url}/v1`, models: ['gpt-4o', 'gpt-4o-secret', 'o3'] } },
      models: { smart: { deployments: [{ upstream: 'oa', model: 'gpt-4o' }] } },
    },
    {
      policy: `agent: tester
models: { allow: ["gpt-4o*", "smart"], deny: ["gpt-4o-secret"] }
limits:
  tokens: [{ limit: 1000, per: 1d }]
`,
    },
  );
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: AGENT_KEY, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.close();
  await mock?.close();
});
beforeEach(() => mock.reset());

describe('LLM budgets and access', () => {
  it('reserves prompt + max_tokens, then settles the reported usage', async () => {
    const before = await remaining(gw);
    await client.chat.completions.create({
      model: 'gpt-4o',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(before - (await remaining(gw))).toBe(18);
    expect(gw.records.at(-1)).toMatchObject({ 'tollgate.tokens.charged': 18, 'tollgate.decision': 'allowed' });
  });

  it('charges the real usage of a stream the agent walked away from', async () => {
    const before = await remaining(gw);
    let release!: () => void;
    mock.next({ kind: 'default', gate: new Promise<void>((r) => (release = r)), usage: { input: 40, output: 60 } });
    const stream = await client.chat.completions.create({
      model: 'smart',
      stream: true,
      max_tokens: 500,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    const closed = gw.agentConnectionClosed();
    stream.controller.abort();
    await closed;
    release();
    const rec = await gw.record((r) => r['tollgate.tokens.charged'] === 100);
    expect(rec).toMatchObject({
      'gen_ai.request.model': 'smart',
      'gen_ai.usage.input_tokens': 40,
      'gen_ai.usage.output_tokens': 60,
      'tollgate.outcome': 'ok',
    });
    expect(rec['tollgate.decision_reason']).toMatch(/agent disconnected/);
    expect(before - (await remaining(gw))).toBe(100);
  });

  it('stops reading an abandoned stream after drain_timeout and keeps the reservation charged', async () => {
    const g = await startLlmGateway(
      { upstreams: { oa: { kind: 'openai', base_url: `${mock.url}/v1`, models: ['gpt-4o'] } }, drain_timeout: 50 },
      { policy: 'agent: tester\nmodels: { allow: ["*"] }\nlimits:\n  tokens: [{ limit: 1000, per: 1d }]\n' },
    );
    try {
      mock.next({ kind: 'default', gate: new Promise<void>(() => undefined) });
      const c = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: AGENT_KEY, maxRetries: 0 });
      const stream = await c.chat.completions.create({
        model: 'gpt-4o',
        stream: true,
        max_tokens: 100,
        messages: [{ role: 'user', content: 'hi' }],
      });
      await stream[Symbol.asyncIterator]().next();
      const closed = g.agentConnectionClosed();
      stream.controller.abort();
      await closed;
      const rec = await g.record((r) => r['tollgate.outcome'] === 'timeout');
      expect(rec['tollgate.tokens.charged']).toBeGreaterThan(100); // prompt estimate + max_tokens
      expect(rec['gen_ai.usage.output_tokens']).toBeNull();
      expect(1000 - (await remaining(g))).toBe(rec['tollgate.tokens.charged']);
    } finally {
      await g.close();
    }
  });

  it('charges the reservation, not the partial usage of message_start, for an Anthropic stream cut before its end', async () => {
    // message_start reports the input and `output_tokens: 1`; the real output count comes only in
    // message_delta. An agent that walks away from a long answer must not be charged as if the
    // model had written one token.
    const g = await startLlmGateway(
      {
        upstreams: { an: { kind: 'anthropic', base_url: mock.url, models: ['claude-sonnet-4-5'] } },
        drain_timeout: 50,
      },
      { policy: 'agent: tester\nmodels: { allow: ["*"] }\nlimits:\n  tokens: [{ limit: 1000, per: 1d }]\n' },
    );
    try {
      mock.next({ kind: 'default', gate: new Promise<void>(() => undefined) });
      const abort = new AbortController();
      const res = await fetch(`${g.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': AGENT_KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({
          model: 'claude-sonnet-4-5',
          stream: true,
          max_tokens: 500,
          messages: [{ role: 'user', content: 'hi' }],
        }),
        signal: abort.signal,
      });
      const first = await res.body!.getReader().read();
      expect(Buffer.from(first.value!).toString()).toContain('message_start');
      const closed = g.agentConnectionClosed();
      abort.abort();
      await closed;
      const rec = await g.record((r) => r['tollgate.outcome'] === 'timeout');
      expect(rec['tollgate.tokens.charged']).toBeGreaterThanOrEqual(500); // the reservation: prompt + max_tokens
      expect(1000 - (await remaining(g))).toBe(rec['tollgate.tokens.charged']);
    } finally {
      await g.close();
    }
  });

  it('cuts off a non-streaming answer past llm.max_response_bytes: 502, the reservation charged', async () => {
    // An agent sets how large an answer is (n × max_tokens, logprobs with top_logprobs: 20 is
    // ~1 KiB a token): read whole, one answer could hold gigabytes in the gateway's memory.
    const g = await startLlmGateway(
      {
        upstreams: { oa: { kind: 'openai', base_url: `${mock.url}/v1`, models: ['gpt-4o'] } },
        max_response_bytes: 1024 * 1024,
      },
      { policy: 'agent: tester\nmodels: { allow: ["*"] }\nlimits:\n  tokens: [{ limit: 1000, per: 1d }]\n' },
    );
    try {
      mock.next({ kind: 'default', pad: 4 * 1024 * 1024 });
      const res = await fetch(`${g.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${AGENT_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(502);
      expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
        'upstream oa answered more than 1048576 bytes',
      );
      const rec = await g.record((r) => r['rpc.response.status_code'] === '502');
      expect(rec['tollgate.tokens.charged']).toBe(108); // prompt 8 + max_tokens 100
      expect(1000 - (await remaining(g))).toBe(108);
    } finally {
      await g.close();
    }
  });

  it('refuses a call that does not fit the budget: 429, Retry-After and RateLimit-* headers, OpenAI error shape', async () => {
    const left = await remaining(gw);
    const err = (await client.chat.completions
      .create({ model: 'gpt-4o', max_tokens: left, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(Number(err.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(err.headers?.get('ratelimit-limit')).toBe('1000');
    expect(err.headers?.get('ratelimit-remaining')).toBe(String(left));
    expect(Number(err.headers?.get('ratelimit-reset'))).toBeGreaterThan(0);
    expect(err.error).toMatchObject({
      type: 'rate_limit_error',
      code: 'budget_exceeded',
      message: 'token budget spent (agent tokens 1000/1d)',
    });
    expect(mock.requests).toHaveLength(0);
    expect(gw.records.at(-1)).toMatchObject({
      'tollgate.decision': 'budget_exceeded',
      'tollgate.decision_rule': 'agent tokens 1000/1d',
      'rpc.response.status_code': '429',
    });
    expect(await remaining(gw)).toBe(left);
  });

  it('refuses a call that could never fit, without a Retry-After', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${AGENT_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', max_tokens: 5000, messages: [] }),
    });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBeNull();
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/more than the budget allows/);
  });

  it('refunds the reservation when the upstream fails', async () => {
    const before = await remaining(gw);
    mock.next({ kind: 'error', status: 400 });
    await expect(
      client.chat.completions.create({ model: 'gpt-4o', max_tokens: 10, messages: [] }),
    ).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    expect(await remaining(gw)).toBe(before);
  });

  it('enforces the model allow-list: 403 in the API shape, and /v1/models shows only allowed models', async () => {
    for (const model of ['gpt-4o-secret', 'o3']) {
      const err = (await client.chat.completions
        .create({ model, messages: [] })
        .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect(err.error).toMatchObject({
        type: 'permission_error',
        code: 'model_not_allowed',
        message: `model ${model} is not allowed for agent tester`,
      });
    }
    expect(mock.requests).toHaveLength(0);
    expect(gw.records.at(-1)).toMatchObject({
      'tollgate.decision': 'denied',
      'gen_ai.request.model': 'o3',
      'tollgate.decision_rule': 'no allow rule matched',
    });
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids.sort()).toEqual(['gpt-4o', 'smart']);
    await expect(client.models.retrieve('o3')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect((await client.models.retrieve('smart')).id).toBe('smart');
  });

  it('sends the upstream one reading of a body with duplicate keys: the one the policy and budget judged', async () => {
    // JSON.parse keeps the last of duplicate keys; parsers that keep the first exist (and others
    // refuse them). Forwarded as received, this body would run the denied model with 5000 output
    // tokens on such an upstream, after the gateway allowed gpt-4o and reserved 10.
    const before = await remaining(gw);
    const raw =
      '{"model":"gpt-4o-secret","max_tokens":5000,"messages":[{"role":"user","content":"hi"}],"max_tokens":10,"model":"gpt-4o"}';
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${AGENT_KEY}`, 'content-type': 'application/json' },
      body: raw,
    });
    expect(res.status).toBe(200);
    expect(mock.requests).toHaveLength(1);
    const sent = mock.requests[0]!.raw;
    expect(sent.match(/"model"/g)).toHaveLength(1);
    expect(sent.match(/"max_tokens"/g)).toHaveLength(1);
    expect(mock.requests[0]!.body).toMatchObject({ model: 'gpt-4o', max_tokens: 10 });
    expect(before - (await remaining(gw))).toBe(18); // the mock's usage, 11 + 7
  });

  it('counts function definitions and response schemas in the prompt, as tools are', async () => {
    // The model reads (and the upstream bills) them as input: left out, a call reserved a few
    // tokens while its schemas alone could fill the context window.
    const big = 'lorem ipsum dolor sit amet '.repeat(300); // ~1500 tokens
    for (const extra of [
      { functions: [{ name: 'f', description: big, parameters: { type: 'object', properties: {} } }] },
      { response_format: { type: 'json_schema', json_schema: { name: 's', description: big, schema: {} } } },
    ]) {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${AGENT_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'gpt-4o',
          max_tokens: 10,
          messages: [{ role: 'user', content: 'hi' }],
          ...extra,
        }),
      });
      expect(res.status).toBe(429);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
        /more than the budget allows/,
      );
    }
    expect(mock.requests).toHaveLength(0);
  });

  it('counts LLM calls against the agent request limits', async () => {
    const g = await startLlmGateway(
      { upstreams: { oa: { kind: 'openai', base_url: `${mock.url}/v1`, models: ['gpt-4o'] } } },
      { policy: 'agent: tester\nmodels: { allow: ["*"] }\nlimits:\n  requests: [{ limit: 2, per: 1h }]\n' },
    );
    try {
      const c = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: AGENT_KEY, maxRetries: 0 });
      for (let i = 0; i < 2; i++) await c.chat.completions.create({ model: 'gpt-4o', messages: [] });
      const err = (await c.chat.completions
        .create({ model: 'gpt-4o', messages: [] })
        .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(err.status).toBe(429);
      expect(err.error).toMatchObject({ code: 'rate_limited', message: 'rate limit reached (agent requests 2/1h)' });
      expect(g.records.at(-1)).toMatchObject({ 'tollgate.decision': 'rate_limited' });
    } finally {
      await g.close();
    }
  });
});

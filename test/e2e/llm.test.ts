// The OpenAI-compatible API as an agent meets it through the real `openai` client: passthrough,
// model mapping, streaming relayed byte for byte, embeddings, model lists, errors in the API's shape.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { AGENT_KEY, EMBEDDING, MockLlm, startLlmGateway, type LlmTestGateway } from '../fixtures/mock-llm.js';
import { llmConfigSchema, toLlmRuntime } from '../../src/llm/index.js';

let mock: MockLlm;
let gw: LlmTestGateway;
let client: OpenAI;

beforeAll(async () => {
  mock = await MockLlm.start();
  gw = await startLlmGateway({
    upstreams: {
      oa: {
        kind: 'openai',
        base_url: `${mock.url}/v1`,
        api_key: 'sk-upstream-secret',
        models: ['gpt-4o', 'text-embedding-3-small'],
      },
    },
    models: { smart: { deployments: [{ upstream: 'oa', model: 'gpt-4o-mini' }] } },
  });
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: AGENT_KEY, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.close();
  await mock?.close();
});
beforeEach(() => mock.reset());

/** Raw SSE text of a chat stream, straight from `base`. */
async function rawStream(
  base: string,
  key: string,
  body: Record<string, unknown>,
): Promise<{ text: string; headers: Headers }> {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return { text: await res.text(), headers: res.headers };
}

describe('llm config', () => {
  it('fills defaults, converts durations, and names unknown keys and upstreams', () => {
    const cfg = toLlmRuntime(
      llmConfigSchema.parse({
        upstreams: {
          oa: { kind: 'openai', api_key: 'k', timeouts: { first_byte: '30s' } },
          an: { kind: 'anthropic', weight: 2 },
        },
        models: {
          fast: {
            strategy: 'priority',
            deployments: [
              { upstream: 'oa', model: 'gpt-4o-mini' },
              { upstream: 'an', model: 'claude-haiku-4-5', priority: 1 },
            ],
          },
        },
        prices: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } },
      }),
    );
    expect(cfg.upstreams[0]).toMatchObject({
      origin: 'https://api.openai.com',
      basePath: '/v1',
      timeouts: { connectMs: 10_000, firstByteMs: 30_000, totalMs: 600_000 },
    });
    expect(cfg.upstreams[1]).toMatchObject({ origin: 'https://api.anthropic.com', basePath: '', weight: 2 });
    expect(cfg.aliases[0]!.deployments[1]).toEqual({
      upstream: 'an',
      model: 'claude-haiku-4-5',
      weight: 2,
      priority: 1,
    });
    expect(cfg).toMatchObject({
      strategy: 'weighted_round_robin',
      retries: { attempts: 3, maxRetryAfterMs: 30_000 },
      breaker: { failures: 5, cooldownMs: 30_000 },
      drainTimeoutMs: 60_000,
    });
    const bad = llmConfigSchema.safeParse({
      upstreams: { oa: { kind: 'openai', apikey: 'x' } },
      models: { m: { deployments: [{ upstream: 'nope', model: 'x' }] } },
    });
    expect(bad.success).toBe(false);
    const problems = bad.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
    expect(problems).toMatch(/apikey/);
    expect(problems).toMatch(/models\.m\.deployments\.0\.upstream: unknown llm upstream nope/);
  });
});

describe('LLM API (OpenAI-compatible)', () => {
  it('passes a chat completion through: unknown fields kept, alias mapped, upstream key swapped in, answer unchanged', async () => {
    const params = {
      model: 'smart',
      messages: [{ role: 'user' as const, content: 'hi' }],
      temperature: 0.2,
      x_vendor_flag: { deep: [1, 2] },
      seed: 7,
    };
    const res = await client.chat.completions.create(params as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const direct = (await (
      await fetch(`${mock.url}/v1/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ ...params, model: 'gpt-4o-mini' }),
      })
    ).json()) as unknown;
    expect(res).toEqual(direct);
    const got = mock.requests[0]!;
    expect(got.path).toBe('/v1/chat/completions');
    expect(got.body).toEqual({ ...params, model: 'gpt-4o-mini' });
    expect(got.headers.authorization).toBe('Bearer sk-upstream-secret');
    expect(JSON.stringify(got.headers)).not.toContain(AGENT_KEY);
    const rec = gw.records.at(-1)!;
    expect(rec).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'smart',
      'gen_ai.agent.id': 'tester',
      'tollgate.upstream.name': 'oa',
      'tollgate.target.native': 'gpt-4o-mini',
      'tollgate.decision': 'allowed',
      'tollgate.outcome': 'ok',
      'gen_ai.usage.input_tokens': 11,
      'gen_ai.usage.output_tokens': 7,
      'tollgate.tokens.charged': 18,
    });
  });

  it('forwards an unchanged body byte for byte (model served under its own name)', async () => {
    const text =
      '{ "model" : "gpt-4o", "messages": [{"role":"user","content":"hi"}], "n": 1.0, "big": 12345678901234567890 }';
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${AGENT_KEY}` },
      body: text,
    });
    expect(res.status).toBe(200);
    expect(mock.requests[0]!.raw).toBe(text);
  });

  it('relays a stream event for event, byte for byte, when the agent asked for usage itself', async () => {
    const body = {
      model: 'gpt-4o',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'hi' }],
    };
    const direct = await rawStream(mock.url, 'x', body);
    const via = await rawStream(gw.url, AGENT_KEY, body);
    expect(via.text).toBe(direct.text);
    expect(via.headers.get('x-accel-buffering')).toBe('no');
    expect(via.headers.get('content-type')).toContain('text/event-stream');
    expect(gw.records.at(-1)).toMatchObject({
      'gen_ai.usage.input_tokens': 11,
      'gen_ai.usage.output_tokens': 7,
      'tollgate.outcome': 'ok',
    });
  });

  it('asks the upstream for usage when the agent did not, and gives the agent exactly the stream it asked for', async () => {
    const body = { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] };
    const direct = await rawStream(mock.url, 'x', body);
    expect(direct.text).not.toContain('usage');
    const via = await rawStream(gw.url, AGENT_KEY, body);
    expect(via.text).toBe(direct.text);
    expect(mock.requests.at(-1)!.body.stream_options).toEqual({ include_usage: true });
    expect(gw.records.at(-1)).toMatchObject({ 'tollgate.tokens.charged': 18, 'gen_ai.usage.output_tokens': 7 });
  });

  it('streams through the openai client with the same chunks as directly', async () => {
    const collect = async (c: OpenAI): Promise<OpenAI.ChatCompletionChunk[]> => {
      const out: OpenAI.ChatCompletionChunk[] = [];
      for await (const ch of await c.chat.completions.create({
        model: 'gpt-4o',
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      }))
        out.push(ch);
      return out;
    };
    const via = await collect(client);
    const direct = await collect(new OpenAI({ baseURL: `${mock.url}/v1`, apiKey: 'x', maxRetries: 0 }));
    expect(via).toEqual(direct);
    expect(via.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello word1');
  });

  it('never retries once a streamed byte reached the agent: a broken stream ends with an error event', async () => {
    let release!: () => void;
    mock.next({ kind: 'default', gate: new Promise<void>((r) => (release = r)) });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    mock.fallback = { kind: 'error', status: 500 };
    mock.cut();
    release();
    await expect(
      (async () => {
        for (;;) if ((await it.next()).done) return;
      })(),
    ).rejects.toThrow(/mid-stream/);
    expect(mock.requests).toHaveLength(1);
    const rec = await gw.record(
      (r) =>
        r['tollgate.outcome'] === 'is_error' &&
        r['tollgate.decision'] === 'allowed' &&
        r['gen_ai.request.model'] === 'gpt-4o',
    );
    expect(rec['tollgate.decision_reason']).toMatch(/mid-stream/);
  });

  it('serves embeddings and charges their prompt tokens', async () => {
    const res = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });
    expect(res.data[0]!.embedding).toEqual(EMBEDDING);
    expect(gw.records.at(-1)).toMatchObject({
      'gen_ai.operation.name': 'embeddings',
      'gen_ai.usage.input_tokens': 11,
      'gen_ai.usage.output_tokens': 0,
      'tollgate.tokens.charged': 11,
    });
  });

  it('lists aliases and upstream models; an unknown model is 404 in the OpenAI error shape', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids.sort()).toEqual(['gpt-4o', 'smart', 'text-embedding-3-small']);
    const err = await client.chat.completions.create({ model: 'nope', messages: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({
      message: 'model nope does not exist',
      type: 'invalid_request_error',
      code: 'model_not_found',
    });
    const other = await fetch(`${gw.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${AGENT_KEY}` },
      body: '{}',
    });
    expect(other.status).toBe(404);
    expect(await other.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'not_found' } });
    expect(mock.requests).toHaveLength(0);
  });

  it("passes the upstream's own errors through, and wraps a non-API error body in the API's shape", async () => {
    mock.next({
      kind: 'error',
      status: 400,
      body: { error: { message: 'bad temperature', type: 'invalid_request_error', param: 'temperature', code: null } },
    });
    const e1 = (await client.chat.completions
      .create({ model: 'gpt-4o', messages: [] })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(e1.status).toBe(400);
    expect(e1.error).toEqual({
      message: 'bad temperature',
      type: 'invalid_request_error',
      param: 'temperature',
      code: null,
    });
    expect(mock.requests).toHaveLength(1);
    mock.next({ kind: 'error', status: 404, body: '<html>not here</html>' });
    const e2 = (await client.chat.completions
      .create({ model: 'gpt-4o', messages: [] })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(e2.status).toBe(404);
    expect(e2.error).toMatchObject({ type: 'invalid_request_error', message: expect.stringContaining('404') });
  });

  it('rejects a request without credentials before any upstream call', async () => {
    const anon = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'wrong', maxRetries: 0 });
    await expect(anon.chat.completions.create({ model: 'gpt-4o', messages: [] })).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
    expect(mock.requests).toHaveLength(0);
  });
});

// The Anthropic-compatible API through the real `@anthropic-ai/sdk` client: JSON and streamed
// messages with usage charged and audited, errors in Anthropic's shape, the Anthropic model list.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import { AGENT_KEY, MockLlm, startLlmGateway, type LlmTestGateway } from '../fixtures/mock-llm.js';

let mock: MockLlm;
let gw: LlmTestGateway;
let client: Anthropic;

beforeAll(async () => {
  mock = await MockLlm.start();
  gw = await startLlmGateway(
    {
      upstreams: {
        an: { kind: 'anthropic', base_url: mock.url, api_key: 'sk-ant-upstream', models: ['claude-sonnet-4-5'] },
        oa: { kind: 'openai', base_url: `${mock.url}/v1`, models: ['gpt-4o'] },
      },
      models: { claude: { deployments: [{ upstream: 'an', model: 'claude-sonnet-4-5-20250929' }] } },
      retries: { backoff_base: 1, backoff_max: 5 },
    },
    {
      policy:
        'agent: tester\nmodels: { allow: ["claude*", "gpt-4o"], deny: ["claude-opus*"] }\nlimits:\n  tokens: [{ limit: 5000, per: 1d }]\n',
    },
  );
  // The gateway takes a bearer token: the SDK's authToken (ANTHROPIC_AUTH_TOKEN) sends one.
  client = new Anthropic({ baseURL: gw.url, authToken: AGENT_KEY, apiKey: null, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.close();
  await mock?.close();
});
beforeEach(() => mock.reset());

describe('LLM API (Anthropic-compatible)', () => {
  it('relays a message: alias mapped, upstream x-api-key and anthropic-version sent, usage audited', async () => {
    const msg = await client.messages.create({
      model: 'claude',
      max_tokens: 256,
      system: 'be brief',
      messages: [{ role: 'user', content: 'hi' }],
      metadata: { user_id: 'u1' },
    });
    expect(msg.content).toEqual([{ type: 'text', text: 'Hello world' }]);
    expect(msg.usage).toMatchObject({ input_tokens: 11, output_tokens: 7 });
    const got = mock.requests[0]!;
    expect(got.path).toBe('/v1/messages');
    expect(got.body).toMatchObject({
      model: 'claude-sonnet-4-5-20250929',
      max_tokens: 256,
      system: 'be brief',
      metadata: { user_id: 'u1' },
    });
    expect(got.headers['x-api-key']).toBe('sk-ant-upstream');
    expect(got.headers.authorization).toBeUndefined();
    expect(got.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/); // the SDK's, passed through
    expect(gw.records.at(-1)).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'claude',
      'tollgate.upstream.name': 'an',
      'gen_ai.usage.input_tokens': 11,
      'gen_ai.usage.output_tokens': 7,
      'tollgate.tokens.charged': 18,
    });
  });

  it('streams events unchanged and charges usage from message_start and message_delta', async () => {
    mock.next({ kind: 'default', usage: { input: 30, output: 12 } });
    const stream = client.messages.stream({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const types: string[] = [];
    stream.on('streamEvent', (e) => types.push(e.type));
    const final = await stream.finalMessage();
    expect(final.content).toEqual(
      [{ type: 'text', text: 'Hello world', citations: null }].map(({ type, text }) =>
        expect.objectContaining({ type, text }),
      ),
    );
    expect(final.usage).toMatchObject({ input_tokens: 30, output_tokens: 12 });
    expect(types).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(gw.records.at(-1)).toMatchObject({
      'gen_ai.usage.input_tokens': 30,
      'gen_ai.usage.output_tokens': 12,
      'tollgate.tokens.charged': 42,
      'tollgate.outcome': 'ok',
    });
  });

  it('relays the raw event stream byte for byte', async () => {
    const body = JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: 10,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const direct = await (await fetch(`${mock.url}/v1/messages`, { method: 'POST', body })).text();
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      body,
      headers: {
        authorization: `Bearer ${AGENT_KEY}`,
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
      },
    });
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    expect(await res.text()).toBe(direct);
  });

  it("answers refusals in Anthropic's error shape", async () => {
    const denied = (await client.messages
      .create({ model: 'claude-opus-secret', max_tokens: 1, messages: [] })
      .catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(denied).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(denied.error).toEqual({
      type: 'error',
      error: { type: 'permission_error', message: 'model claude-opus-secret is not allowed for agent tester' },
    });

    const wrongApi = (await client.messages
      .create({ model: 'gpt-4o', max_tokens: 1, messages: [] })
      .catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(wrongApi).toBeInstanceOf(Anthropic.NotFoundError);
    expect(wrongApi.error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });

    const tooBig = (await client.messages
      .create({ model: 'claude', max_tokens: 6000, messages: [] })
      .catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(tooBig).toBeInstanceOf(Anthropic.RateLimitError);
    expect(tooBig.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(tooBig.headers?.get('ratelimit-limit')).toBe('5000');

    mock.next(
      {
        kind: 'error',
        status: 529,
        body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
      },
      {
        kind: 'error',
        status: 529,
        body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
      },
      {
        kind: 'error',
        status: 529,
        body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
      },
    );
    const overloaded = (await client.messages
      .create({ model: 'claude', max_tokens: 1, messages: [] })
      .catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(overloaded.status).toBe(529);
    expect(overloaded.error).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    expect(mock.requests).toHaveLength(3); // retried (attempts: 3), then the upstream's own answer
  });

  it('lists the Anthropic models the agent may use, in Anthropic’s list shape', async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids.sort()).toEqual(['claude', 'claude-sonnet-4-5']);
  });
});

// The /v1 fast lane (src/llm/fast-lane.ts) against the Hono route it stands in front of: the same
// answers, byte for byte, the same audit records and charges, and what the lane does not serve still
// answered as before (by Hono).
import { request } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { AGENT_KEY, MockLlm, startLlmGateway, type LlmTestGateway } from '../fixtures/mock-llm.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { MemoryStore } from '../../src/limits/memory-store.js';

let mock: MockLlm;
let lane: LlmTestGateway;
let hono: LlmTestGateway;
const BUDGET = { key: 'a:tester:tok:86400000', tag: 'tester', limit: 100_000, periodMs: 86_400_000, cost: 0 };

beforeAll(async () => {
  mock = await MockLlm.start();
  const config = {
    upstreams: {
      oa: { kind: 'openai' as const, base_url: `${mock.url}/v1`, models: ['gpt-4o', 'text-embedding-3-small'] },
      an: { kind: 'anthropic' as const, base_url: mock.url, models: ['claude-sonnet-4-5'] },
    },
    max_body_bytes: 4096,
  };
  const policy = 'agent: tester\nmodels: { allow: ["*"] }\nlimits:\n  tokens: [{ limit: 100000, per: 1d }]\n';
  // Budgets on a stopped clock: both gateways' remaining tokens depend on their charges alone.
  const store = (): MemoryStore => new MemoryStore({ now: () => 1_700_000_000_000, sweepIntervalMs: 0 });
  lane = await startLlmGateway(config, { policy, store: store() });
  hono = await startLlmGateway(config, { policy, store: store(), lane: false });
});
afterAll(async () => {
  await lane?.close();
  await hono?.close();
  await mock?.close();
});
beforeEach(() => mock.reset());

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request on its own connection; the answer as it came (headers that vary per response left out). */
function send(base: string, path: string, headers: Record<string, string>, body: string | Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method: 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const { date: _d, connection: _c, 'keep-alive': _k, ...rest } = res.headers;
        resolve({ status: res.statusCode ?? 0, headers: rest, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const json = { 'content-type': 'application/json', authorization: `Bearer ${AGENT_KEY}` };

/** The call's audit record without what differs between any two calls (ids, times). */
function stable(r: AuditRecord): Record<string, unknown> {
  const {
    timestamp: _t,
    'tollgate.record.id': _id,
    'service.instance.id': _i,
    'tollgate.latency.total_ms': _l,
    'tollgate.latency.upstream_ms': _u,
    ...rest
  } = r as unknown as Record<string, unknown>;
  return rest;
}

async function both(path: string, headers: Record<string, string>, body: string): Promise<[Answer, Answer]> {
  const a = await send(lane.url, path, headers, body);
  const b = await send(hono.url, path, headers, body);
  return [a, b];
}

describe('the /v1 fast lane', () => {
  it.each([
    ['a chat completion', '/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }],
    [
      'a stream (usage asked for by the gateway)',
      '/v1/chat/completions',
      { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] },
    ],
    [
      'a stream (usage asked for by the agent)',
      '/v1/chat/completions',
      {
        model: 'gpt-4o',
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'hi' }],
      },
    ],
    ['embeddings', '/v1/embeddings', { model: 'text-embedding-3-small', input: ['a', 'b'] }],
    [
      'an Anthropic message',
      '/v1/messages',
      { model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] },
    ],
    [
      'an Anthropic stream',
      '/v1/messages',
      { model: 'claude-sonnet-4-5', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'hi' }] },
    ],
    ['an unknown model (404)', '/v1/chat/completions', { model: 'nope', messages: [] }],
    ['a body that names no model (400)', '/v1/chat/completions', { messages: [] }],
    ['a ceiling out of range (400)', '/v1/chat/completions', { model: 'gpt-4o', max_tokens: -1, messages: [] }],
  ])('answers %s exactly as the Hono route does, and audits it alike', async (_name, path, body) => {
    const [a, b] = await both(path, json, JSON.stringify(body));
    expect(a).toEqual(b);
    expect(a.body.length).toBeGreaterThan(0);
    expect(stable(lane.records.at(-1)!)).toEqual(stable(hono.records.at(-1)!));
    expect((await lane.store.peek([BUDGET])).results[0]!.remaining).toBe(
      (await hono.store.peek([BUDGET])).results[0]!.remaining,
    );
  });

  it('answers an upstream error as the Hono route does', async () => {
    mock.next({ kind: 'error', status: 400, headers: { 'x-upstream': 'yes' } });
    mock.next({ kind: 'error', status: 400, headers: { 'x-upstream': 'yes' } });
    const [a, b] = await both('/v1/chat/completions', json, JSON.stringify({ model: 'gpt-4o', messages: [] }));
    expect(a.status).toBe(400);
    expect(a).toEqual(b);
  });

  it('leaves to Hono what it does not serve, and those answers stay as they were', async () => {
    const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    const cases: [Record<string, string>, string, string | Buffer][] = [
      [{ 'content-type': 'application/json' }, '/v1/chat/completions', body], // no credential
      [{ ...json, authorization: 'Bearer tg_wrong' }, '/v1/chat/completions', body], // unknown key
      [json, '/v1/chat/completions?x=1', body], // a query string
      [json, '/v1/chat/completions', 'x'.repeat(5000)], // over max_body_bytes: 413
      [{ ...json, 'transfer-encoding': 'chunked' }, '/v1/chat/completions', body], // no Content-Length
    ];
    for (const [headers, path, b] of cases) {
      const [x, y] = [await send(lane.url, path, headers, b), await send(hono.url, path, headers, b)];
      expect({ path, status: x.status }).toEqual({ path, status: y.status });
      expect(x).toEqual(y);
    }
  });

  it('streams a long answer whole to an agent that reads slowly', async () => {
    mock.next({ kind: 'default', chunks: 20_000 });
    const res = await fetch(`${lane.url}/v1/chat/completions`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const reader = res.body!.getReader();
    let text = '';
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      await new Promise((r) => setImmediate(r)); // the agent takes its time with each chunk
    }
    expect(text.split('data: ').length - 1).toBe(20_000 + 3); // role, 20 000 pieces, stop, [DONE]
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(lane.records.at(-1)).toMatchObject({ 'tollgate.outcome': 'ok', 'gen_ai.usage.output_tokens': 7 });
  });

  it('charges the real usage of a stream the agent walked away from, on either path', async () => {
    for (const g of [lane, hono]) {
      let release!: () => void;
      mock.next({ kind: 'default', gate: new Promise<void>((r) => (release = r)), usage: { input: 40, output: 61 } });
      const client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: AGENT_KEY, maxRetries: 0 });
      const stream = await client.chat.completions.create({
        model: 'gpt-4o',
        stream: true,
        max_tokens: 500,
        messages: [{ role: 'user', content: 'hi' }],
      });
      await stream[Symbol.asyncIterator]().next();
      const closed = g.agentConnectionClosed();
      stream.controller.abort();
      await closed;
      release();
      const rec = await g.record((r) => r['tollgate.tokens.charged'] === 101);
      expect(rec['tollgate.decision_reason']).toMatch(/agent disconnected/);
    }
  });
});

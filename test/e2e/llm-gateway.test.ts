// The LLM API mounted in the real gateway: the same agent keys, policies, budgets, audit and
// metrics as MCP, with the openai client as the agent.
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockLlm } from '../fixtures/mock-llm.js';
import { startGateway, TEST_KEY } from '../helpers/gateway.js';
import type { AuditLine } from '../../src/audit/record.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import { tempDir } from '../helpers/tmp.js';

let mock: MockLlm;
let gw: Awaited<ReturnType<typeof startGateway>>;
let openai: OpenAI;

beforeAll(async () => {
  mock = await MockLlm.start();
  const dir = tempDir('tollgate-llm-');
  writeFileSync(
    join(dir, 'tester.yaml'),
    'agent: tester\nmodels: { allow: ["gpt-4o"] }\nlimits: { tokens: [{ limit: 100000, per: 1d }] }\n',
  );
  gw = await startGateway(`
upstreams:
  feat: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio] }
auth: { api_keys: [{ agent: tester, key: ${TEST_KEY} }] }
policies: { dir: ${dir} }
metrics: { enabled: true }
llm:
  upstreams:
    oa: { kind: openai, base_url: "${mock.url}/v1", api_key: sk-upstream-secret, models: [gpt-4o, gpt-4o-mini] }
  prices: { gpt-4o: { input: 2.5, output: 10 } }
`);
  openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: TEST_KEY, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.close();
  await mock?.close();
});

describe('LLM API in the gateway', () => {
  it('refuses a body nested too deep before parsing it, and keeps serving', async () => {
    const deep = `{"model":"gpt-4o","messages":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    const r = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
      body: deep,
    });
    expect(r.status).toBe(400);
    expect(JSON.stringify(await r.json())).toContain('nests deeper than 128 levels');
    const ok = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(ok.choices.length).toBeGreaterThan(0);
  });

  it('answers a chat completion with the agent’s key, never forwarding it, and audits it', async () => {
    const r = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(r.usage?.total_tokens).toBeGreaterThan(0);
    const seen = mock.requests.at(-1)!;
    expect(JSON.stringify(seen.headers)).not.toContain(TEST_KEY);
    expect(seen.headers.authorization).toBe('Bearer sk-upstream-secret');
    const audit = readFileSync(gw.auditFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditLine);
    expect(audit.at(-1)).toMatchObject({
      'gen_ai.agent.id': 'tester',
      'gen_ai.request.model': 'gpt-4o',
      'tollgate.decision': 'allowed',
    });
    expect(audit.at(-1)!['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    const usage = r.usage!;
    expect(audit.at(-1)!['tollgate.cost.usd']).toBeCloseTo(
      (usage.prompt_tokens * 2.5 + usage.completion_tokens * 10) / 1e6,
      10,
    );
  });

  it('applies the model allow-list from the policy file', async () => {
    const models = await openai.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['gpt-4o']);
    await expect(
      openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    ).rejects.toMatchObject({ status: 403 });
  });

  it('refuses a foreign Origin or Host, and a declared length over the cap, before anything reads the body', async () => {
    const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    const post = (headers: Record<string, string>, send: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = request(`${gw.url}/v1/chat/completions`, { method: 'POST', headers, agent: false }, (res) => {
          resolve(res.statusCode ?? 0);
          req.destroy(); // the 413's body was never sent whole
        });
        req.on('error', reject);
        req.write(send);
      });
    const json = { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}` };
    const length = String(Buffer.byteLength(body));
    const calls = mock.requests.length;
    expect(await post({ ...json, 'content-length': length, origin: 'https://evil.example' }, body)).toBe(403);
    expect(await post({ ...json, 'content-length': length, host: 'evil.example' }, body)).toBe(403);
    expect(await post({ ...json, 'content-length': String(64 * 1024 * 1024) }, body)).toBe(413);
    expect(mock.requests.length).toBe(calls);
  });

  it('refuses agents without a valid key', async () => {
    const stranger = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'wrong-key-0123456789', maxRetries: 0 });
    await expect(stranger.chat.completions.create({ model: 'gpt-4o', messages: [] })).rejects.toMatchObject({
      status: 401,
    });
  });

  it('counts LLM tokens in the metrics', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toMatch(/tollgate_tokens_total\{agent="tester",model="gpt-4o",direction="input"\} [1-9]/);
    expect(text).toMatch(/tollgate_llm_cost_usd_total\{agent="tester",model="gpt-4o"\} [0-9.e-]+/);
  });
});

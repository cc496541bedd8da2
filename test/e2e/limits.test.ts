// Rate limits, token budgets and concurrency as an agent meets them, on one gateway (memory store)
// and on two gateway processes sharing Redis.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { startGateway, TEST_KEY } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { connectFresh } from '../helpers/fresh-client.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { ensureRedis } from '../helpers/redis.js';
import type { AuditLine } from '../../src/audit/record.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import { tempDir } from '../helpers/tmp.js';

const FIXTURE = `{ transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio] }`;

function policyDir(policy: string): string {
  const dir = tempDir('tollgate-limits-');
  writeFileSync(join(dir, 'tester.yaml'), policy);
  return dir;
}

async function refusal(p: Promise<unknown>): Promise<McpError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(McpError);
  return err as McpError;
}

describe('limits on one gateway (memory store)', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;
  beforeAll(async () => {
    const dir = policyDir(`agent: tester
tools: { allow: ["*"] }
limits:
  requests: [{ limit: 100, per: 1m }]
  tools:
    - tool: "feat__echo"
      requests: [{ limit: 3, per: 1h }]
  tokens: [{ limit: 20, per: 1d }]
  concurrency: 1
`);
    gw = await startGateway(`
upstreams:
  feat: ${FIXTURE}
auth: { api_keys: [{ agent: tester, key: ${TEST_KEY} }] }
policies: { dir: ${dir} }
limits: { tool_result_tokens: { enabled: true, default_estimate: 5 } }
`);
    client = await connect(`${gw.url}/mcp`);
  });
  afterAll(async () => {
    await client?.close();
    await gw?.close();
  });

  it('refuses the call over a per-tool limit with -32029, retry time and what remains; the session stays usable', async () => {
    for (let i = 0; i < 3; i++) await client.callTool({ name: 'feat__echo', arguments: { text: String(i) } });
    const err = await refusal(client.callTool({ name: 'feat__echo', arguments: { text: 'one too many' } }));
    expect(err.code).toBe(-32029);
    expect(err.message).toMatch(/rate limit reached \(agent requests to feat__echo 3\/1h\)/);
    expect(err.data).toMatchObject({ limit: 'agent requests to feat__echo 3/1h', remaining: 0 });
    expect((err.data as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThan(1000);
    await client.ping();
    const lines = readFileSync(gw.auditFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditLine);
    expect(lines.at(-1)).toMatchObject({
      'tollgate.decision': 'rate_limited',
      'tollgate.decision_rule': 'agent requests to feat__echo 3/1h',
    });
  });

  it('charges tool-result tokens after the result, and refuses once the budget is spent', async () => {
    await client.callTool({ name: 'feat__big', arguments: { ms: 2000 } }); // ~2000 characters back
    const charged = readFileSync(gw.auditFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditLine)
      .at(-1)!['tollgate.tokens.charged'];
    expect(charged).toBeGreaterThan(20);
    const err = await refusal(client.callTool({ name: 'feat__big', arguments: { ms: 10 } }));
    expect(err.code).toBe(-32028);
    expect(err.message).toMatch(/token budget spent \(agent tokens 20\/1d\)/);
  });

  it('reports usage against each limit', async () => {
    const usage = await gw.gw.usage('tester');
    expect(usage.find((u) => u.kind === 'tokens')).toMatchObject({ limit: 20, remaining: 0 });
    expect(usage.find((u) => u.name === 'agent requests to feat__echo 3/1h')).toMatchObject({ used: 3, remaining: 0 });
  });
});

describe('concurrency', () => {
  it('refuses a second call while one is in flight', async () => {
    const dir = policyDir(`agent: tester\ntools: { allow: ["*"] }\nlimits: { concurrency: 1 }\n`);
    const gw = await startGateway(
      `upstreams:\n  feat: ${FIXTURE}\nauth: { api_keys: [{ agent: tester, key: ${TEST_KEY} }] }\npolicies: { dir: ${dir} }\n`,
    );
    const c = await connect(`${gw.url}/mcp`);
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const slow = c.callTool({ name: 'feat__slow', arguments: { ms: 500 } }, undefined, { onprogress: () => started() });
    await running; // the first call is in flight upstream
    const err = await refusal(c.callTool({ name: 'feat__echo', arguments: { text: 'x' } }));
    expect(err.message).toMatch(/too many calls in flight/);
    await slow;
    await c.callTool({ name: 'feat__echo', arguments: { text: 'after' } });
    await c.close();
    await gw.close();
  });
});

describe('two gateway processes sharing Redis', async () => {
  const redis = await ensureRedis();
  if (!redis)
    console.warn(
      '\n\n*** REDIS NOT AVAILABLE: skipping the shared-limit test (start redis-server on 127.0.0.1:6379) ***\n\n',
    );
  let gateways: Spawned[] = [];
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.kill()));
  });

  it.skipIf(!redis)(
    'admits exactly the limit across both under 64 concurrent clients',
    async () => {
      const LIMIT = 40;
      const root = tempDir('tollgate-shared-');
      mkdirSync(join(root, 'policies'));
      writeFileSync(
        join(root, 'policies', 'tester.yaml'),
        `agent: tester\ntools: { allow: ["*"] }\nlimits: { requests: [{ limit: ${LIMIT}, per: 1h }] }\n`,
      );
      const prefix = `tgtest-${randomBytes(4).toString('hex')}:`;
      writeFileSync(
        join(root, 'tollgate.yaml'),
        `upstreams:\n  feat: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio], cwd: ${process.cwd()} }\n` +
          `auth: { api_keys: [{ agent: tester, key: ${TEST_KEY} }] }\npolicies: { dir: policies }\naudit: { file: null }\n` +
          `limits: { store: redis, redis: { url: "redis://127.0.0.1:6379", prefix: "${prefix}", timeout: 2s } }\n`,
      );
      gateways = await Promise.all(
        [0, 1].map(() =>
          spawnListening(['src/main.ts', 'serve', '--config', join(root, 'tollgate.yaml'), '--port', '0']),
        ),
      );
      const clients = await Promise.all(
        Array.from({ length: 64 }, (_, i) => connectFresh(`http://127.0.0.1:${gateways[i % 2]!.port}/mcp`, TEST_KEY)),
      );
      const outcomes = await Promise.all(
        clients.map((c) =>
          c.callTool({ name: 'feat__echo', arguments: { text: 'x' } }).then(
            () => 'ok',
            (e: McpError) => String(e.code),
          ),
        ),
      );
      expect(outcomes.filter((o) => o === 'ok')).toHaveLength(LIMIT);
      expect(outcomes.filter((o) => o === '-32029')).toHaveLength(64 - LIMIT);
      await Promise.all(clients.map((c) => c.close()));
    },
    60_000,
  );
});

describe('readiness with the limits store down', () => {
  for (const [mode, status, state] of [
    ['local', 200, 'degraded'],
    ['fail_closed', 503, 'degraded'],
  ] as const) {
    it(`reports Redis unreachable under ${mode}: ${status}`, async () => {
      const gw = await startGateway(
        `upstreams:\n  feat: ${FIXTURE}\nauth: { api_keys: [{ agent: tester, key: ${TEST_KEY} }] }\n` +
          `limits: { store: redis, redis: { url: "redis://127.0.0.1:1", failure_mode: ${mode}, timeout: 50ms } }\n`,
      );
      try {
        const r = await fetch(`${gw.url}/readyz`);
        expect(r.status).toBe(status);
        expect(await r.json()).toMatchObject({ limits: { store: 'redis', state, failureMode: mode } });
      } finally {
        await gw.close();
      }
    });
  }
});

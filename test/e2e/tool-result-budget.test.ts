// Tool-result token budgets under concurrency (issue 14, item 3): 64 concurrent tools/call from real
// MCP SDK clients against a 2 000-token budget. Each call reserves an estimate of its result (the
// agent's recent p95 for that tool, or `default_estimate`), so the budget is never overspent when
// results are no larger than their estimate — on the memory store and on Redis.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { McpError } from '@modelcontextprotocol/sdk/types.js';
import { Redis } from 'ioredis';
import { startGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { ensureRedis, REDIS_HOST, REDIS_PORT } from '../helpers/redis.js';
import type { AuditLine } from '../../src/audit/record.js';
import { nodeArgsYaml } from '../helpers/compiled.js';

const FIXTURE = `{ transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio] }`;
const BUDGET = 2000;
const CALLS = 64;
// feat__big returns 'x' × ms characters: 1 200 of them are exactly 150 o200k tokens.
const RESULT = { name: 'feat__big', arguments: { ms: 1200 } };
const RESULT_TOKENS = 150;
const KEYS = { warm: 'warm-key-0123456789', cold: 'cold-key-0123456789' };

const redis = await ensureRedis();
const dirs: string[] = [];
const prefixes: string[] = [];
afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  if (redis && prefixes.length > 0) {
    const admin = new Redis({ host: REDIS_HOST, port: REDIS_PORT });
    for (const p of prefixes) {
      const keys = await admin.keys(`${p}*`);
      if (keys.length > 0) await admin.del(...keys);
    }
    admin.disconnect();
  }
});

async function gateway(store: 'memory' | 'redis', defaultEstimate: number) {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-result-budget-'));
  dirs.push(dir);
  for (const agent of Object.keys(KEYS))
    writeFileSync(
      join(dir, `${agent}.yaml`),
      `agent: ${agent}\ntools: { allow: ["*"] }\nlimits: { tokens: [{ limit: ${BUDGET}, per: 30d }] }\n`,
    );
  const prefix = `tgtest-budgets-${randomBytes(4).toString('hex')}:`;
  prefixes.push(prefix);
  const storeYaml =
    store === 'redis'
      ? `store: redis, redis: { url: "redis://${REDIS_HOST}:${REDIS_PORT}", prefix: "${prefix}", timeout: 2s }, `
      : '';
  return startGateway(`
upstreams:
  feat: ${FIXTURE}
auth: { api_keys: [{ agent: warm, key: ${KEYS.warm} }, { agent: cold, key: ${KEYS.cold} }] }
policies: { dir: ${dir} }
limits: { ${storeYaml}tool_result_tokens: { enabled: true, default_estimate: ${defaultEstimate} } }
`);
}

/** CALLS concurrent calls spread over 8 SDK clients: how many succeeded, and every refusal code. */
async function burst(url: string, key: string): Promise<{ ok: number; refusals: McpError[] }> {
  const clients: Client[] = await Promise.all(Array.from({ length: 8 }, () => connect(url, { key })));
  try {
    const outcomes = await Promise.all(
      Array.from({ length: CALLS }, (_, i) =>
        clients[i % clients.length]!.callTool(RESULT).then(
          () => undefined,
          (e: unknown) => e as McpError,
        ),
      ),
    );
    const refusals = outcomes.filter((o): o is McpError => o !== undefined);
    return { ok: CALLS - refusals.length, refusals };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

/** Tokens charged to `agent`, summed from the audit log (debt included, unlike `remaining`). */
function charged(auditFile: string, agent: string): number {
  return readFileSync(auditFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as AuditLine)
    .filter((r) => r['gen_ai.agent.id'] === agent)
    .reduce((sum, r) => sum + r['tollgate.tokens.charged'], 0);
}

describe.each(['memory', 'redis'] as const)('tool-result token budget, %s store', (store) => {
  it.skipIf(store === 'redis' && !redis)(
    '64 concurrent calls with a learned estimate: exactly ⌊budget / result⌋ calls, never more than the budget',
    async () => {
      const gw = await gateway(store, 1000);
      try {
        const url = `${gw.url}/mcp`;
        const first = await connect(url, { key: KEYS.warm });
        await first.callTool(RESULT); // this agent's p95 for feat__big is now 150
        await first.close();
        const { ok, refusals } = await burst(url, KEYS.warm);
        // 1 850 tokens left, 150 reserved per call: 12 fit, 52 are refused (today: all 64 ran, 9 750 charged).
        expect(ok).toBe(12);
        expect(refusals.map((e) => e.code)).toEqual(Array(CALLS - 12).fill(-32028));
        expect(refusals[0]!.message).toMatch(
          /token budget spent \(agent tokens 2000\/30d\): this call reserves 150 tokens for its result/,
        );
        expect(charged(gw.auditFile, 'warm')).toBe(13 * RESULT_TOKENS); // 1 950 ≤ 2 000
        expect((await gw.gw.usage('warm')).find((u) => u.kind === 'tokens')).toMatchObject({
          used: 13 * RESULT_TOKENS,
          remaining: BUDGET - 13 * RESULT_TOKENS,
        });
      } finally {
        await gw.close();
      }
    },
    120_000,
  );

  it.skipIf(store === 'redis' && !redis)(
    '64 concurrent calls to a tool never seen reserve default_estimate: the budget holds',
    async () => {
      const gw = await gateway(store, 200); // results are 150: an over-estimate, so no overshoot
      try {
        const { ok, refusals } = await burst(`${gw.url}/mcp`, KEYS.cold);
        // At least 2 000 / 200 = 10 fit; once results are seen the estimate is 150, so at most 13.
        expect(ok).toBeGreaterThanOrEqual(10);
        expect(ok).toBeLessThanOrEqual(13);
        expect(refusals.every((e) => e.code === -32028)).toBe(true);
        expect(charged(gw.auditFile, 'cold')).toBe(ok * RESULT_TOKENS);
        expect(ok * RESULT_TOKENS).toBeLessThanOrEqual(BUDGET);
      } finally {
        await gw.close();
      }
    },
    120_000,
  );
});

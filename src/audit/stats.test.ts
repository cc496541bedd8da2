import { describe, expect, it } from 'vitest';
import { createAuditRecord, type AuditDecision, type AuditLine } from './record.js';
import { auditStats } from './stats.js';

const line = (
  agent: string,
  target: { tool?: string; uri?: string; model?: string },
  decision: AuditDecision,
  ms: number,
  tokens: number,
): AuditLine => ({
  ...createAuditRecord({
    'service.instance.id': 'gw',
    'gen_ai.agent.id': agent,
    'tollgate.auth.method': 'api_key',
    'mcp.method.name': target.tool ? 'tools/call' : target.uri ? 'resources/read' : null,
    'gen_ai.tool.name': target.tool ?? null,
    'mcp.resource.uri': target.uri ?? null,
    'gen_ai.request.model': target.model ?? null,
    'tollgate.decision': decision,
    'tollgate.outcome': 'ok',
    'tollgate.tokens.charged': tokens,
    'tollgate.latency.total_ms': ms,
  }),
  prev: '',
});

const RECORDS = [
  line('alice', { tool: 'github__search' }, 'allowed', 10, 100),
  line('alice', { tool: 'github__create_issue' }, 'denied', 1, 0),
  line('bob', { tool: 'fs__read' }, 'allowed', 30, 50),
  line('bob', { tool: 'fs__read' }, 'rate_limited', 2, 0),
  line('alice', { uri: 'fs+file:///etc/hosts' }, 'allowed', 20, 10),
  line('carol', { tool: 'github__search' }, 'error', 5, 0),
  line('carol', { model: 'gpt-4.1' }, 'budget_exceeded', 4, 0),
];

describe('auditStats', () => {
  it('counts, tokens and latency percentiles per agent, tool and decision, busiest first', async () => {
    const s = await auditStats(RECORDS);
    expect(s.total).toMatchObject({ count: 7, tokens: 160, latency: { p50: 5, p95: 30, p99: 30 } });
    expect(s.byAgent.map((r) => [r.key, r.count, r.tokens, r.decisions])).toEqual([
      ['alice', 3, 110, { allowed: 2, denied: 1 }],
      ['bob', 2, 50, { allowed: 1, rate_limited: 1 }],
      ['carol', 2, 0, { error: 1, budget_exceeded: 1 }],
    ]);
    expect(s.byAgent[0]!.latency).toEqual({ p50: 10, p95: 20, p99: 20 });
    expect(s.byTool.map((r) => [r.key, r.count])).toEqual([
      ['fs__read', 2],
      ['github__search', 2],
      ['fs+file:///etc/hosts', 1],
      ['github__create_issue', 1],
      ['gpt-4.1', 1],
    ]);
    expect(s.byDecision.map((r) => [r.key, r.count, r.tokens])).toEqual([
      ['allowed', 3, 160],
      ['budget_exceeded', 1, 0],
      ['denied', 1, 0],
      ['error', 1, 0],
      ['rate_limited', 1, 0],
    ]);
  });

  it('percentiles are nearest-rank', async () => {
    const many = await auditStats(
      Array.from({ length: 100 }, (_, i) => line('a', { tool: 't' }, 'allowed', 100 - i, 1)),
    );
    expect(many.total.latency).toEqual({ p50: 50, p95: 95, p99: 99 });
    expect((await auditStats([])).total).toMatchObject({ count: 0, latency: { p50: 0, p95: 0, p99: 0 } });
  });

  it('accepts an async source and tolerates foreign lines', async () => {
    async function* gen() {
      yield RECORDS[0]!;
      yield { prev: '' } as unknown as AuditLine;
    }
    const s = await auditStats(gen());
    expect(s.total.count).toBe(2);
    expect(s.byAgent.map((r) => r.key)).toEqual(['-', 'alice']);
  });
});

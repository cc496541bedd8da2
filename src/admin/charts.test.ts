// The charts' data and SVG: bucket sizes for a range, counts and percentiles per bucket, top lists, and
// names from agents rendered as text (escaped), never as markup.
import { describe, expect, it } from 'vitest';
import { chartRange, chartsFromRecords } from '../audit/charts.js';
import { createAuditRecord, type AuditLine } from '../audit/record.js';
import { ChartsSection, niceMax } from './charts.js';

const at = Date.UTC(2026, 0, 1, 12, 0, 0);
const rec = (minute: number, agent: string, decision: 'allowed' | 'denied', ms: number): AuditLine => ({
  ...createAuditRecord(
    {
      'service.instance.id': 'i',
      'gen_ai.agent.id': agent,
      'tollgate.auth.method': 'api_key',
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'gh__search',
      'tollgate.decision': decision,
      'tollgate.outcome': 'ok',
      'tollgate.latency.total_ms': ms,
    },
    at + minute * 60_000,
  ),
  prev: '0'.repeat(64),
});

describe('charts', () => {
  it('cuts a range into at most 120 round buckets (a minute for the last hour)', () => {
    expect(chartRange({}, at)).toEqual({ from: at - 3_600_000, to: at, bucketMs: 60_000 });
    expect(chartRange({ since: at - 86_400_000 }, at).bucketMs).toBe(900_000);
    expect(chartRange({ since: at - 30 * 86_400_000 }, at).bucketMs).toBe(21_600_000);
    expect(niceMax(7)).toBe(10);
    expect(niceMax(0)).toBe(1);
  });

  it('counts per decision, p50/p99 per bucket, busiest agents first; escapes names', async () => {
    const records = [
      rec(-5, 'alice', 'allowed', 10),
      rec(-5, 'alice', 'allowed', 30),
      rec(-5, '<script>alert(1)</script>', 'denied', 1),
      rec(-1, 'alice', 'allowed', 50),
    ];
    const range = chartRange({}, at);
    const d = await chartsFromRecords(records, range);
    const b = d.buckets.find((x) => x.t === at - 5 * 60_000)!;
    expect(b.counts).toEqual({ allowed: 2, denied: 1 });
    expect([b.p50, b.p99]).toEqual([10, 30]);
    expect(d.topAgents).toEqual([
      { key: 'alice', count: 3 },
      { key: '<script>alert(1)</script>', count: 1 },
    ]);
    const html = String(await ChartsSection({ data: d, rangeLabel: 'Last hour' }));
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>');
    expect(html.match(/<rect class="bar d-allowed"/g)).toHaveLength(2);
    expect(html).toContain('Calls per minute by decision');
  });
});

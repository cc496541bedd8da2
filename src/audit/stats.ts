// Summaries of audit records: counts, tokens and latency percentiles per agent, tool and decision.
import type { AuditLine } from './record.js';
import { fieldString, targetOf } from './query.js';

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
}

export interface StatsRow {
  key: string;
  count: number;
  /** Records per decision. */
  decisions: Record<string, number>;
  tokens: number;
  /** Of `tollgate.latency.total_ms` (nearest rank). */
  latency: LatencySummary;
}

export interface AuditStats {
  total: StatsRow;
  byAgent: StatsRow[];
  byTool: StatsRow[];
  byDecision: StatsRow[];
}

class Acc {
  count = 0;
  tokens = 0;
  decisions: Record<string, number> = {};
  latencies: number[] = [];
  add(r: AuditLine): void {
    this.count++;
    const tokens = r['tollgate.tokens.charged'];
    if (typeof tokens === 'number' && Number.isFinite(tokens)) this.tokens += tokens;
    const d = fieldString(r, 'tollgate.decision') ?? '?';
    this.decisions[d] = (this.decisions[d] ?? 0) + 1;
    const ms = r['tollgate.latency.total_ms'];
    if (typeof ms === 'number' && Number.isFinite(ms)) this.latencies.push(ms);
  }
  row(key: string): StatsRow {
    const s = Float64Array.from(this.latencies).sort();
    const p = (q: number) => (s.length === 0 ? 0 : s[Math.max(0, Math.ceil(q * s.length) - 1)]!);
    return {
      key,
      count: this.count,
      decisions: this.decisions,
      tokens: this.tokens,
      latency: { p50: p(0.5), p95: p(0.95), p99: p(0.99) },
    };
  }
}

/** Counts, tokens and latency percentiles, in total and per agent, tool and decision (busiest first). */
export async function auditStats(records: AsyncIterable<AuditLine> | Iterable<AuditLine>): Promise<AuditStats> {
  const total = new Acc();
  const groups = { agent: new Map<string, Acc>(), tool: new Map<string, Acc>(), decision: new Map<string, Acc>() };
  const into = (m: Map<string, Acc>, key: string, r: AuditLine) => {
    let a = m.get(key);
    if (!a) m.set(key, (a = new Acc()));
    a.add(r);
  };
  for await (const r of records) {
    total.add(r);
    into(groups.agent, fieldString(r, 'gen_ai.agent.id') ?? '-', r);
    into(groups.tool, targetOf(r), r);
    into(groups.decision, fieldString(r, 'tollgate.decision') ?? '?', r);
  }
  const rows = (m: Map<string, Acc>) =>
    [...m].map(([k, a]) => a.row(k)).sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
  return {
    total: total.row('total'),
    byAgent: rows(groups.agent),
    byTool: rows(groups.tool),
    byDecision: rows(groups.decision),
  };
}

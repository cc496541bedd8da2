// What the admin page's charts show, for a time range: calls per bucket by decision, p50/p99 latency
// per bucket, and the busiest agents and tools. Computed here from records (JSONL), or by the
// PostgreSQL store with the same meaning (pg/store.ts); rendered as SVG by admin/charts.tsx.
import type { AuditLine } from './record.js';
import { fieldString, targetOf, type AuditQuery } from './query.js';

export interface ChartBucket {
  /** Start of the bucket (epoch ms). */
  t: number;
  /** Records per decision. */
  counts: Record<string, number>;
  /** Nearest-rank percentiles of tollgate.latency.total_ms; null when the bucket is empty. */
  p50: number | null;
  p99: number | null;
}

export interface ChartData {
  from: number;
  to: number;
  bucketMs: number;
  buckets: ChartBucket[];
  topAgents: { key: string; count: number }[];
  topTools: { key: string; count: number }[];
  total: number;
}

export interface ChartRange {
  from: number;
  to: number;
  bucketMs: number;
}

const STEPS = [60_000, 300_000, 900_000, 3_600_000, 21_600_000, 86_400_000];
export const MAX_BUCKETS = 120;
export const TOP_N = 8;
/** The range when the page asks for "any time": the last hour. */
export const DEFAULT_CHART_SPAN_MS = 3_600_000;

/** The query's time range (default: the last hour) cut into at most MAX_BUCKETS buckets of a round size. */
export function chartRange(q: Pick<AuditQuery, 'since' | 'until'>, now: number): ChartRange {
  const to = q.until ?? now;
  const from = Math.min(q.since ?? to - DEFAULT_CHART_SPAN_MS, to - 60_000);
  const span = to - from;
  const bucketMs =
    STEPS.find((s) => span / s <= MAX_BUCKETS) ?? Math.ceil(span / MAX_BUCKETS / 86_400_000) * 86_400_000;
  // Bucket edges on round times (a minute starts at :00), so two pages agree on them.
  const start = Math.floor(from / bucketMs) * bucketMs;
  return { from: start, to, bucketMs };
}

export const bucketCount = (r: ChartRange): number => Math.max(1, Math.ceil((r.to - r.from) / r.bucketMs));

export const nearestRank = (sorted: Float64Array | number[], q: number): number | null =>
  sorted.length === 0 ? null : sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;

const top = (m: Map<string, number>) =>
  [...m]
    .map(([key, count]) => ({ key, count }))
    .sort((a, b) => b.count - a.count || a.key.localeCompare(b.key))
    .slice(0, TOP_N);

/** Chart data from records already filtered to the range (readAudit with since/until). */
export async function chartsFromRecords(
  records: AsyncIterable<AuditLine> | Iterable<AuditLine>,
  range: ChartRange,
): Promise<ChartData> {
  const n = bucketCount(range);
  const counts: Record<string, number>[] = Array.from({ length: n }, () => ({}));
  const lat: number[][] = Array.from({ length: n }, () => []);
  const agents = new Map<string, number>();
  const tools = new Map<string, number>();
  let total = 0;
  for await (const r of records) {
    const t = Date.parse(r.timestamp);
    const b = Math.floor((t - range.from) / range.bucketMs);
    if (!Number.isFinite(b) || b < 0 || b >= n) continue;
    total++;
    const d = fieldString(r, 'tollgate.decision') ?? '?';
    counts[b]![d] = (counts[b]![d] ?? 0) + 1;
    const ms = r['tollgate.latency.total_ms'];
    if (typeof ms === 'number' && Number.isFinite(ms)) lat[b]!.push(ms);
    const a = fieldString(r, 'gen_ai.agent.id') ?? '-';
    agents.set(a, (agents.get(a) ?? 0) + 1);
    const tool = targetOf(r);
    tools.set(tool, (tools.get(tool) ?? 0) + 1);
  }
  return {
    ...range,
    total,
    buckets: counts.map((c, i) => {
      const s = Float64Array.from(lat[i]!).sort();
      return { t: range.from + i * range.bucketMs, counts: c, p50: nearestRank(s, 0.5), p99: nearestRank(s, 0.99) };
    }),
    topAgents: top(agents),
    topTools: top(tools),
  };
}

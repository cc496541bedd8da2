// Output formatting of `tollgate audit`: the streamed records table and the stats summary; separate so audit.ts keeps to the command.
import type { AuditLine } from '../audit/record.js';
import { targetOf } from '../audit/query.js';
import type { auditStats, StatsRow } from '../audit/stats.js';
import { printable } from './terminal-text.js';

const COLORS: Record<string, string> = {
  allowed: '32',
  denied: '31',
  rate_limited: '33',
  budget_exceeded: '33',
  error: '35',
};
const HEADERS = ['TIME (UTC)', 'AGENT', 'METHOD', 'TARGET', 'DECISION', 'OUTCOME', 'LATENCY', 'REASON'];
// Column caps; the first rows (up to WIDTH_SAMPLE) narrow them to what they need. --follow cannot
// wait for a sample, so it uses fixed widths.
const MAX_WIDTHS = [23, 16, 16, 40, 15, 20, 9];
const FOLLOW_WIDTHS = [23, 12, 14, 32, 15, 20, 9];
const WIDTH_SAMPLE = 200;

function fmtMs(ms: unknown): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '-';
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)}s`;
  return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)}ms`;
}

/** A record's cells, each one line with its control characters spelled out (agents chose most of them). */
function cells(r: AuditLine): string[] {
  return rawCells(r).map(printable);
}

function rawCells(r: AuditLine): string[] {
  const s = (x: unknown) => (typeof x === 'string' || typeof x === 'number' ? String(x) : '-');
  const time = typeof r.timestamp === 'string' ? r.timestamp.replace('T', ' ').replace(/Z$/, '') : '-';
  const outcome =
    r['tollgate.outcome'] === 'jsonrpc_error' && r['rpc.response.status_code']
      ? `jsonrpc_error ${r['rpc.response.status_code']}`
      : s(r['tollgate.outcome']);
  const method = r['mcp.method.name'] ?? (r['gen_ai.operation.name'] ? `llm:${r['gen_ai.operation.name']}` : null);
  const reason = [
    r['tollgate.decision_reason'],
    r['tollgate.decision_rule'] ? `[${r['tollgate.decision_rule']}]` : null,
  ]
    .filter((x) => typeof x === 'string' && x)
    .join(' ');
  return [
    time,
    s(r['gen_ai.agent.id']),
    s(method),
    targetOf(r),
    s(r['tollgate.decision']),
    outcome,
    fmtMs(r['tollgate.latency.total_ms']),
    reason,
  ];
}

/** Aligned table, streamed: widths come from the first rows, later cells are cut to fit. */
export class Table {
  private sample: string[][] | undefined = [];
  private widths: number[] = FOLLOW_WIDTHS;
  constructor(
    private readonly color: boolean,
    private readonly streaming: boolean,
  ) {}

  push(r: AuditLine): string {
    const row = cells(r);
    if (this.sample && !this.streaming) {
      this.sample.push(row);
      return this.sample.length >= WIDTH_SAMPLE ? this.end() : '';
    }
    return (this.sample ? this.startFixed() : '') + this.line(row);
  }

  end(): string {
    if (!this.sample) return '';
    const rows = this.sample;
    if (!this.streaming)
      this.widths = MAX_WIDTHS.map((max, i) =>
        Math.min(max, Math.max(HEADERS[i]!.length, ...rows.map((row) => row[i]!.length))),
      );
    return this.startFixed() + rows.map((row) => this.line(row)).join('');
  }

  private startFixed(): string {
    this.sample = undefined;
    return this.line(HEADERS, true);
  }

  private line(row: string[], header = false): string {
    const parts = row.map((cell, i) => {
      const w = this.widths[i];
      if (w === undefined) return cell; // REASON: last, unpadded
      const text = cell.length > w ? `${cell.slice(0, w - 1)}…` : cell;
      const padded = i === 6 ? text.padStart(w) : text.padEnd(w);
      if (!this.color) return padded;
      if (header) return `\x1b[1m${padded}\x1b[0m`;
      const c = i === 4 ? COLORS[cell] : undefined;
      return c ? `\x1b[${c}m${padded}\x1b[0m` : padded;
    });
    return `${parts.join('  ').trimEnd()}\n`;
  }
}

export function renderStats(s: Awaited<ReturnType<typeof auditStats>>): string {
  const t = s.total;
  let out = `${t.count} records, ${t.tokens} tokens charged, latency p50 ${fmtMs(t.latency.p50)} p95 ${fmtMs(t.latency.p95)} p99 ${fmtMs(t.latency.p99)}\n`;
  const section = (title: string, rows: StatsRow[], withDecisions: boolean) => {
    const headers = [
      title,
      'COUNT',
      ...(withDecisions ? ['ALLOWED', 'BLOCKED', 'ERROR'] : []),
      'TOKENS',
      'P50',
      'P95',
      'P99',
    ];
    const body = rows.map((r) => {
      const d = (k: string) => r.decisions[k] ?? 0;
      const counts = withDecisions
        ? [d('allowed'), d('denied') + d('rate_limited') + d('budget_exceeded'), d('error')].map(String)
        : [];
      return [
        printable(r.key),
        String(r.count),
        ...counts,
        String(r.tokens),
        fmtMs(r.latency.p50),
        fmtMs(r.latency.p95),
        fmtMs(r.latency.p99),
      ];
    });
    const widths = headers.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
    const fmt = (row: string[]) =>
      `${row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}\n`;
    return `\n${fmt(headers)}${body.map(fmt).join('')}`;
  };
  out += section('AGENT', s.byAgent, true);
  out += section('TOOL', s.byTool, true);
  out += section('DECISION', s.byDecision, false);
  return out;
}

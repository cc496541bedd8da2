// A line of the audit chain → a row of the audit table: the exact text plus the filter columns.
// Lines come from our own writer, but their values are what agents sent: PostgreSQL text cannot hold
// U+0000 and jsonb refuses \u0000 and lone surrogates, so the COLUMNS are cleaned (never the line).
import { sha256Hex } from '../../sha256.js';

export interface AuditRow {
  record_id: string;
  ts: string;
  is_record: boolean;
  instance: string | null;
  agent: string | null;
  method: string | null;
  tool: string | null;
  native: string | null;
  server: string | null;
  decision: string | null;
  outcome: string | null;
  session: string | null;
  latency_ms: number | null;
  /** JSON text for the jsonb column. */
  arguments: string | null;
  hash: string;
  line: string;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is exactly what must go
const NUL = /\u0000/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** A string PostgreSQL text and jsonb accept: NUL and unpaired surrogates become U+FFFD. */
export const cleanText = (s: string): string => s.replace(NUL, '\uFFFD').replace(LONE_SURROGATE, '\uFFFD');

const str = (v: unknown, max = 2048): string | null => (typeof v === 'string' ? cleanText(v.slice(0, max)) : null);

function cleanJson(v: unknown): unknown {
  if (typeof v === 'string') return cleanText(v);
  if (Array.isArray(v)) return v.map(cleanJson);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[cleanText(k)] = cleanJson(x);
    return out;
  }
  return v;
}

/** The row for one line; a line that is not a JSON object still gets a row (its text is the record). */
export function rowOf(line: string, now: number): AuditRow {
  const hash = sha256Hex(line);
  let o: Record<string, unknown> = {};
  try {
    const v: unknown = JSON.parse(line);
    if (v && typeof v === 'object' && !Array.isArray(v)) o = v as Record<string, unknown>;
  } catch {
    // kept as text: verify reports it
  }
  const tsText = typeof o.timestamp === 'string' ? o.timestamp : '';
  const t = Date.parse(tsText);
  const id = typeof o['tollgate.record.id'] === 'string' ? (o['tollgate.record.id'] as string) : '';
  const latency = o['tollgate.latency.total_ms'];
  const args = o['tollgate.request.arguments'];
  return {
    // A line without an id of its own (e.g. a checkpoint) is identified by its hash: re-shipping it is a no-op too.
    record_id: id !== '' && id.length <= 64 ? cleanText(id) : `line:${hash}`,
    ts: new Date(Number.isFinite(t) ? t : now).toISOString(),
    is_record: typeof o['tollgate.decision'] === 'string',
    instance: str(o['service.instance.id']),
    agent: str(o['gen_ai.agent.id']),
    method: str(o['mcp.method.name']) ?? str(o['gen_ai.operation.name']),
    tool:
      str(o['gen_ai.tool.name']) ??
      str(o['gen_ai.prompt.name']) ??
      str(o['mcp.resource.uri']) ??
      str(o['gen_ai.request.model']),
    native: str(o['tollgate.target.native']),
    server: str(o['tollgate.upstream.name']),
    decision: str(o['tollgate.decision']),
    outcome: str(o['tollgate.outcome']),
    session: str(o['mcp.session.id']),
    latency_ms: typeof latency === 'number' && Number.isFinite(latency) ? latency : null,
    arguments: args === undefined || args === null ? null : JSON.stringify(cleanJson(args)),
    hash,
    line,
  };
}

/** Rows as column arrays, for one `INSERT … SELECT FROM unnest(…)` (one round trip per batch). */
export function columnsOf(rows: readonly AuditRow[], chain: string): unknown[] {
  const col = <K extends keyof AuditRow>(k: K) => rows.map((r) => r[k]);
  return [
    rows.map(() => chain),
    col('record_id'),
    col('ts'),
    col('is_record'),
    col('instance'),
    col('agent'),
    col('method'),
    col('tool'),
    col('native'),
    col('server'),
    col('decision'),
    col('outcome'),
    col('session'),
    col('latency_ms'),
    col('arguments'),
    col('hash'),
    col('line'),
  ];
}

export const INSERT_COLUMNS =
  'chain, record_id, ts, is_record, instance, agent, method, tool, native, server, decision, outcome, session, latency_ms, arguments, hash, line';

export const UNNEST_TYPES = [
  'text',
  'text',
  'timestamptz',
  'boolean',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'float8',
  'jsonb',
  'text',
  'text',
];

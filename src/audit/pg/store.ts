// Reading the fleet's audit records from PostgreSQL: pages newest first (the admin API and page),
// all matching records oldest first (the CLI), chart aggregates, and each chain's lines in order
// (for verify: every instance's chain is its own).
import { parseAuditLine } from '../parse-line.js';
import type { Pool } from 'pg';
import type { AuditLine } from '../record.js';
import type { AuditQuery } from '../query.js';
import { bucketCount, type ChartData, type ChartRange, TOP_N } from '../charts.js';
import { quoteTable } from './migrate.js';
import { whereOf } from './where.js';

export interface PgPageQuery extends AuditQuery {
  limit: number;
  cursor?: string;
}

export interface PgPage {
  records: AuditLine[];
  nextCursor?: string;
}

const CHUNK = 1000;

/** Cursor of a page: the (ts, id) of the oldest record shown, as `<epoch ms>.<id>`. */
const CURSOR = /^(\d{1,15})\.(\d{1,18})$/;

const parse = parseAuditLine;

export class PgAuditStore {
  private readonly t: string;

  constructor(
    readonly pool: Pool,
    readonly table: string,
  ) {
    this.t = quoteTable(table);
  }

  /** One page, newest first; `cursor` continues after the previous page's oldest record. */
  async page(q: PgPageQuery): Promise<PgPage> {
    const { limit, cursor, ...filters } = q;
    const w = whereOf(filters);
    let sql = `SELECT id::text AS rid, (extract(epoch from ts) * 1000)::bigint::text AS ms, line FROM ${this.t} WHERE ${w.sql}`;
    const m = cursor === undefined ? undefined : CURSOR.exec(cursor);
    if (m) {
      w.params.push(m[1], m[2]);
      const n = w.params.length;
      sql += ` AND (ts, id) < ('epoch'::timestamptz + $${n - 1}::bigint * interval '1 millisecond', $${n}::bigint)`;
    }
    w.params.push(limit + 1);
    sql += ` ORDER BY ts DESC, id DESC LIMIT $${w.params.length}`;
    const rows = (await this.pool.query<{ rid: string; ms: string; line: string }>(sql, w.params)).rows;
    const more = rows.length > limit;
    const shown = more ? rows.slice(0, limit) : rows;
    const records = shown.map((r) => parse(r.line)).filter((r): r is AuditLine => r !== undefined);
    const last = shown.at(-1);
    return more && last ? { records, nextCursor: `${last.ms}.${last.rid}` } : { records };
  }

  /** Matching records, oldest first (with `limit`: the last n of them), read in chunks. */
  async *records(q: AuditQuery): AsyncGenerator<AuditLine> {
    if (q.limit !== undefined) {
      const { limit, ...rest } = q;
      if (limit <= 0) return;
      const page = await this.page({ ...rest, limit });
      yield* page.records.reverse();
      return;
    }
    let after: [string, string] | undefined;
    for (;;) {
      const w = whereOf(q);
      let sql = `SELECT id::text AS rid, ts::text AS tstext, line FROM ${this.t} WHERE ${w.sql}`;
      if (after) {
        w.params.push(after[0], after[1]);
        sql += ` AND (ts, id) > ($${w.params.length - 1}::timestamptz, $${w.params.length}::bigint)`;
      }
      sql += ` ORDER BY ts, id LIMIT ${CHUNK}`;
      const rows = (await this.pool.query<{ rid: string; tstext: string; line: string }>(sql, w.params)).rows;
      for (const r of rows) {
        const rec = parse(r.line);
        if (rec) yield rec;
      }
      if (rows.length < CHUNK) return;
      const last = rows.at(-1)!;
      after = [last.tstext, last.rid];
    }
  }

  /** Instances in the table (for the page's filter), at most 100: one index probe each, not a scan. */
  async instances(): Promise<string[]> {
    const r = await this.pool.query<{ instance: string }>(
      `WITH RECURSIVE i AS (
         (SELECT instance FROM ${this.t} WHERE instance IS NOT NULL ORDER BY instance LIMIT 1)
         UNION ALL
         SELECT (SELECT instance FROM ${this.t} WHERE instance > i.instance ORDER BY instance LIMIT 1) FROM i WHERE i.instance IS NOT NULL
       ) SELECT instance FROM i WHERE instance IS NOT NULL LIMIT 100`,
    );
    return r.rows.map((x) => x.instance);
  }

  /** Chart aggregates over the range, with the other filters of `q`. */
  async charts(q: AuditQuery, range: ChartRange): Promise<ChartData> {
    const { since: _s, until: _u, limit: _l, ...filters } = q;
    const n = bucketCount(range);
    const base = () => whereOf({ ...filters, since: range.from, until: range.to });
    const bucketExpr = (w: { params: unknown[] }) => {
      w.params.push(range.from, range.bucketMs);
      const k = w.params.length;
      return `floor((extract(epoch from ts) * 1000 - $${k - 1}::float8) / $${k}::float8)::int`;
    };
    const wc = base();
    const counts = this.pool.query<{ b: number; decision: string | null; n: number }>(
      `SELECT ${bucketExpr(wc)} AS b, decision, count(*)::int AS n FROM ${this.t} WHERE ${wc.sql} GROUP BY 1, 2`,
      wc.params,
    );
    const wl = base();
    const lat = this.pool.query<{ b: number; p50: number; p99: number }>(
      `SELECT ${bucketExpr(wl)} AS b, percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50,
        percentile_disc(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99
       FROM ${this.t} WHERE ${wl.sql} AND latency_ms IS NOT NULL GROUP BY 1`,
      wl.params,
    );
    const topOf = (expr: string) => {
      const w = base();
      return this.pool.query<{ key: string; count: number }>(
        `SELECT ${expr} AS key, count(*)::int AS count FROM ${this.t} WHERE ${w.sql} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ${TOP_N}`,
        w.params,
      );
    };
    const [c, l, agents, tools] = await Promise.all([
      counts,
      lat,
      topOf(`coalesce(agent, '-')`),
      topOf(`coalesce(tool, method, '-')`),
    ]);
    const buckets = Array.from({ length: n }, (_, i) => ({
      t: range.from + i * range.bucketMs,
      counts: {} as Record<string, number>,
      p50: null as number | null,
      p99: null as number | null,
    }));
    let total = 0;
    for (const r of c.rows) {
      const b = buckets[r.b];
      if (!b) continue;
      b.counts[r.decision ?? '?'] = (b.counts[r.decision ?? '?'] ?? 0) + r.n;
      total += r.n;
    }
    for (const r of l.rows) {
      const b = buckets[r.b];
      if (b) {
        b.p50 = r.p50;
        b.p99 = r.p99;
      }
    }
    return { ...range, buckets, total, topAgents: agents.rows, topTools: tools.rows };
  }

  /** Every chain in the table (one per instance that ever wrote), for verify. */
  async chains(): Promise<string[]> {
    const r = await this.pool.query<{ chain: string }>(
      // A loose index scan: one probe per chain on the (chain, id) index, not a scan of every row.
      `WITH RECURSIVE c AS (
         (SELECT chain FROM ${this.t} ORDER BY chain LIMIT 1)
         UNION ALL
         SELECT (SELECT chain FROM ${this.t} WHERE chain > c.chain ORDER BY chain LIMIT 1) FROM c WHERE c.chain IS NOT NULL
       ) SELECT chain FROM c WHERE chain IS NOT NULL`,
    );
    return r.rows.map((x) => x.chain);
  }

  /** One chain's lines (exact text, `prev` included) in chain order, read in chunks. */
  async *chainLines(chain: string): AsyncGenerator<string> {
    let after = '0';
    for (;;) {
      const rows = (
        await this.pool.query<{ rid: string; line: string }>(
          `SELECT id::text AS rid, line FROM ${this.t} WHERE chain = $1 AND id > $2::bigint ORDER BY id LIMIT ${CHUNK}`,
          [chain, after],
        )
      ).rows;
      for (const r of rows) yield r.line;
      if (rows.length < CHUNK) return;
      after = rows.at(-1)!.rid;
    }
  }

  /**
   * A chain's lines newest first, from the line whose hash is `hash` back to the chain's start (none
   * when no line has it): where a spool that continues this chain finds its last signed checkpoint.
   */
  async *chainLinesBackFrom(chain: string, hash: string): AsyncGenerator<Buffer> {
    const from = await this.pool.query<{ rid: string }>(
      `SELECT id::text AS rid FROM ${this.t} WHERE chain = $1 AND hash = $2 ORDER BY id DESC LIMIT 1`,
      [chain, hash],
    );
    let upTo = from.rows[0]?.rid;
    while (upTo !== undefined) {
      const rows = (
        await this.pool.query<{ rid: string; line: string }>(
          `SELECT id::text AS rid, line FROM ${this.t} WHERE chain = $1 AND id <= $2::bigint ORDER BY id DESC LIMIT ${CHUNK}`,
          [chain, upTo],
        )
      ).rows;
      for (const r of rows) yield Buffer.from(r.line);
      upTo = rows.length < CHUNK ? undefined : String(BigInt(rows.at(-1)!.rid) - 1n);
    }
  }

  /** The time of the oldest row (ms since the epoch), undefined when the table is empty. */
  async oldestMs(): Promise<number | undefined> {
    const r = await this.pool.query<{ ms: string | null }>(
      `SELECT (extract(epoch from min(ts)) * 1000)::bigint::text AS ms FROM ${this.t}`,
    );
    const ms = r.rows[0]?.ms;
    return ms === null || ms === undefined ? undefined : Number(ms);
  }

  /** The hash of a chain's last line (where a fresh spool of that chain continues), if any. */
  async chainHead(chain: string): Promise<string | undefined> {
    const r = await this.pool.query<{ hash: string }>(
      `SELECT hash FROM ${this.t} WHERE chain = $1 ORDER BY id DESC LIMIT 1`,
      [chain],
    );
    return r.rows[0]?.hash;
  }
}

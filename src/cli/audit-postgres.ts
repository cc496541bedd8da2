// `tollgate audit --postgres URL` (or --config with audit.postgres): the fleet's records from
// PostgreSQL — list (oldest first, like the file form), --follow (live, every instance), stats, and
// verify: each instance's chain on its own, with verifyChain (links, signed checkpoints with
// --public-key, unsigned tail, stale end) and checkAnchors (--anchor), printed as the file form prints.
import { once } from 'node:events';
import type { AuditLine } from '../audit/record.js';
import { verifyChain, type ChainLine, type ChainReport } from '../audit/verify-chain.js';
import type { VerifyOptions } from '../audit/verify.js';
import { matcher, type AuditQuery } from '../audit/query.js';
import { auditStats } from '../audit/stats.js';
import { PgAuditStore } from '../audit/pg/store.js';
import { PgFeed } from '../audit/pg/feed.js';
import { auditPool } from '../audit/pg/fleet.js';
import { Table, renderStats } from './audit-format.js';
import { printableJson } from './terminal-text.js';
import { plural, verifyCommand, type VerifiedLog, type VerifyCommandOptions } from './audit-sign.js';

export interface PgSource {
  url: string;
  table: string;
}

export interface PgAuditIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  isTTY: boolean;
  signal?: AbortSignal;
}

export interface PgVerifyResult {
  ok: boolean;
  chains: number;
  /** Audit records (checkpoint rows not included). */
  records: number;
  checkpoints: number;
  /** The first break: the chain, its row (1 = the chain's first row still in the table) and why. */
  broken?: { chain: string; row: number; reason: string };
  /** One report per chain read (stem: "chain <id>"), up to the broken one. */
  sets: (ChainReport & { stem: string })[];
}

/**
 * Verifies every chain in the table (one per writer instance) as verifyChain does a log set: links,
 * signed checkpoints (with keys), the unsigned tail and a stale end. Stops at the first broken chain.
 */
export async function verifyPgChains(
  store: PgAuditStore,
  partial: boolean,
  opts: Pick<VerifyOptions, 'publicKeys' | 'now'> = {},
): Promise<PgVerifyResult> {
  const chains = await store.chains();
  const result: PgVerifyResult = { ok: true, chains: chains.length, records: 0, checkpoints: 0, sets: [] };
  for (const chain of chains) {
    const report = await verifyChain(rowsOf(store, chain), {
      requireGenesis: !partial,
      unit: 'row',
      afterRotation: 'the rows after it are missing (or not shipped yet)',
      ...(opts.publicKeys && { publicKeys: opts.publicKeys }),
      ...(opts.now !== undefined && { now: opts.now }),
    });
    result.sets.push({ ...report, stem: `chain ${chain}` });
    result.records += report.records;
    result.checkpoints += report.checkpoints;
    if (!report.ok && report.firstBroken) {
      const { line: row, reason } = report.firstBroken;
      result.ok = false;
      result.broken = {
        chain,
        row,
        reason: row === 1 && !partial ? `${reason} (after retention deleted old rows: use --partial)` : reason,
      };
      return result;
    }
  }
  return result;
}

async function* rowsOf(store: PgAuditStore, chain: string): AsyncGenerator<ChainLine> {
  let row = 0;
  for await (const line of store.chainLines(chain)) yield { bytes: Buffer.from(line, 'utf8'), line: ++row };
}

/** The PostgreSQL chains for the verify output shared with the file form (audit-sign.ts). */
async function verifiedChains(
  store: PgAuditStore,
  opts: VerifyOptions & { requireGenesis: boolean },
): Promise<VerifiedLog> {
  const r = await verifyPgChains(store, !opts.requireGenesis, opts);
  return {
    records: r.records,
    checkpoints: r.checkpoints,
    extent: plural(r.chains, 'chain'),
    intact: 'every chain intact',
    ...(r.broken && { broken: { at: `in chain ${r.broken.chain} at row ${r.broken.row}`, reason: r.broken.reason } }),
    sets: r.sets,
    at: (w) => `row ${w.line}`,
    // The table holds every instance's chain: one the anchor knows that is gone was deleted whole.
    all: { oldestMs: await store.oldestMs(), name: 'the table' },
  };
}

async function write(stream: NodeJS.WritableStream, s: string): Promise<void> {
  if (!stream.write(s)) await once(stream, 'drain');
}

export async function pgAuditCommand(
  src: PgSource,
  sub: 'list' | 'stats' | 'verify',
  q: AuditQuery,
  flags: { follow: boolean; json: boolean } & VerifyCommandOptions,
  io: PgAuditIo,
): Promise<number> {
  const pool = auditPool(src.url, () => {}, 2);
  const store = new PgAuditStore(pool, src.table);
  const out = (s: string) => write(io.stdout, s);
  let feed: PgFeed | undefined;
  try {
    if (sub === 'verify')
      return await verifyCommand(
        (opts) => verifiedChains(store, opts),
        {
          partial: flags.partial,
          publicKeys: flags.publicKeys,
          anchors: flags.anchors,
          ...(flags.now !== undefined && { now: flags.now }),
        },
        out,
        (s) => io.stderr.write(s),
      );
    if (sub === 'stats') {
      const s = await auditStats(store.records(q));
      await out(flags.json ? `${printableJson(JSON.stringify(s, null, 2))}\n` : renderStats(s));
      return 0;
    }
    const table = flags.json ? undefined : new Table(io.isTTY, flags.follow);
    const emit = async (r: AuditLine) => {
      if (table) {
        const text = table.push(r);
        if (text) await out(text);
      } else await out(`${printableJson(JSON.stringify(r))}\n`);
    };
    if (!flags.follow) {
      for await (const r of store.records(q)) await emit(r);
      if (table) await out(table.end());
      return 0;
    }
    // Follow: subscribe first (nothing written meanwhile is missed), then print history, then live.
    const f = new PgFeed({ pool, url: src.url, table: src.table, pollMs: 1000 });
    feed = f;
    const match = matcher({ ...q, limit: undefined });
    const live: AuditLine[] = [];
    let wake: (() => void) | undefined;
    const seen = new Set<string>();
    f.onRecord((r) => {
      if (!match(r as AuditLine)) return;
      live.push(r as AuditLine);
      wake?.();
    });
    for await (const r of store.records(q)) {
      seen.add(r['tollgate.record.id']);
      await emit(r);
    }
    io.signal?.addEventListener('abort', () => wake?.());
    while (!io.signal?.aborted) {
      if (live.length === 0) await new Promise<void>((r) => (wake = r));
      wake = undefined;
      for (const r of live.splice(0)) if (!seen.has(r['tollgate.record.id'])) await emit(r);
      if (seen.size > 50_000) seen.clear(); // the overlap with history is only the first moments
    }
    if (table) await out(table.end());
    return 0;
  } catch (err) {
    io.stderr.write(`tollgate audit: PostgreSQL ${src.table}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await feed?.stop();
    await pool.end().catch(() => {});
  }
}

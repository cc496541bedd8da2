// `tollgate audit --postgres URL` (or --config with audit.postgres): the fleet's records from
// PostgreSQL — list (oldest first, like the file form), --follow (live, every instance), stats, and
// verify (each instance's chain on its own).
import { once } from 'node:events';
import { sha256Hex } from '../sha256.js';
import { GENESIS_HASH, type AuditLine } from '../audit/record.js';
import { matcher, type AuditQuery } from '../audit/query.js';
import { auditStats } from '../audit/stats.js';
import { PgAuditStore } from '../audit/pg/store.js';
import { PgFeed } from '../audit/pg/feed.js';
import { auditPool } from '../audit/pg/fleet.js';
import { Table, renderStats } from './audit-format.js';

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

const HEX64 = /^[0-9a-f]{64}$/;

/** Walks every chain: each line's `prev` is the hash of the chain's line before it (genesis first). */
export async function verifyPgChains(
  store: PgAuditStore,
  partial: boolean,
): Promise<{ ok: boolean; chains: number; records: number; broken?: { chain: string; row: number; reason: string } }> {
  let records = 0;
  const chains = await store.chains();
  for (const chain of chains) {
    let expected: string | undefined = partial ? undefined : GENESIS_HASH;
    let row = 0;
    for await (const line of store.chainLines(chain)) {
      row++;
      let prev: unknown;
      try {
        prev = (JSON.parse(line) as { prev?: unknown }).prev;
      } catch {
        return { ok: false, chains: chains.length, records, broken: { chain, row, reason: 'not valid JSON' } };
      }
      if (typeof prev !== 'string' || !HEX64.test(prev))
        return {
          ok: false,
          chains: chains.length,
          records,
          broken: { chain, row, reason: 'missing or malformed "prev"' },
        };
      if (expected !== undefined && prev !== expected)
        return {
          ok: false,
          chains: chains.length,
          records,
          broken: {
            chain,
            row,
            reason:
              row === 1
                ? 'the first row does not start the chain: earlier rows are missing (use --partial after retention)'
                : `prev does not match row ${row - 1}: it was edited, or rows were deleted or inserted here`,
          },
        };
      expected = sha256Hex(line);
      records++;
    }
  }
  return { ok: true, chains: chains.length, records };
}

async function write(stream: NodeJS.WritableStream, s: string): Promise<void> {
  if (!stream.write(s)) await once(stream, 'drain');
}

export async function pgAuditCommand(
  src: PgSource,
  sub: 'list' | 'stats' | 'verify',
  q: AuditQuery,
  flags: { follow: boolean; json: boolean; partial: boolean },
  io: PgAuditIo,
): Promise<number> {
  const pool = auditPool(src.url, () => {}, 2);
  const store = new PgAuditStore(pool, src.table);
  const out = (s: string) => write(io.stdout, s);
  let feed: PgFeed | undefined;
  try {
    if (sub === 'verify') {
      const r = await verifyPgChains(store, flags.partial);
      if (!r.ok && r.broken) {
        await out(`BROKEN in chain ${r.broken.chain} at row ${r.broken.row}: ${r.broken.reason}\n`);
        return 1;
      }
      await out(`OK: ${r.records} records in ${r.chains} chains, every chain intact\n`);
      return 0;
    }
    if (sub === 'stats') {
      const s = await auditStats(store.records(q));
      await out(flags.json ? `${JSON.stringify(s, null, 2)}\n` : renderStats(s));
      return 0;
    }
    const table = flags.json ? undefined : new Table(io.isTTY, flags.follow);
    const emit = async (r: AuditLine) => {
      if (table) {
        const text = table.push(r);
        if (text) await out(text);
      } else await out(`${JSON.stringify(r)}\n`);
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

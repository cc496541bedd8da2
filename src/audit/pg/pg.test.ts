// The PostgreSQL audit store against the real server (a database of its own, dropped after): the spool
// shipped in chain order with exact lines, idempotent re-shipping, rotation, hostile values, fleet
// reads and filters, charts, chain verification, and retention in batches.
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import pino from 'pino';
import { parseConfigText } from '../../config/load.js';
import { openConfiguredAudit } from '../open.js';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditRecord, type AuditLine, type AuditRecord } from '../record.js';
import { FileSink } from '../sinks.js';
import { AuditWriter } from '../writer.js';
import { GENESIS_HASH } from '../record.js';
import { chartRange, chartsFromRecords } from '../charts.js';
import { readAudit } from '../query.js';
import { pruneFiles, pruneRows } from '../retention.js';
import { verifyPgChains } from '../../cli/audit-postgres.js';
import { SpoolSink } from './fleet.js';
import { migrate } from './migrate.js';
import { PgShipper } from './shipper.js';
import { PgAuditStore } from './store.js';
import { createTestDatabase, postgresAvailable, testPool, type TestDatabase } from '../../../test/helpers/postgres.js';
import { tempDir } from '../../../test/helpers/tmp.js';

const enabled = await postgresAvailable();
const TABLE = 'audit_t';
let db: TestDatabase;
let pool: pg.Pool;
let store: PgAuditStore;

beforeAll(async () => {
  if (!enabled) return;
  db = await createTestDatabase();
  pool = testPool(db.url);
  store = new PgAuditStore(pool, TABLE);
  // Two instances starting at once: the advisory lock makes them take turns.
  await Promise.all([migrate(pool, TABLE), migrate(pool, TABLE)]);
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

let n = 0;
const rec = (instance: string, extra: Partial<AuditRecord> = {}): AuditRecord =>
  createAuditRecord({
    'service.instance.id': instance,
    'gen_ai.agent.id': n % 3 === 0 ? 'alice' : 'bob',
    'tollgate.auth.method': 'api_key',
    'mcp.method.name': 'tools/call',
    'gen_ai.tool.name': n % 2 === 0 ? 'github__search' : 'fs__read',
    'tollgate.target.native': n % 2 === 0 ? 'search' : 'read',
    'tollgate.decision': n % 5 === 0 ? 'denied' : 'allowed',
    'tollgate.outcome': 'ok',
    'tollgate.request.arguments': { q: `query ${n++}` },
    'tollgate.latency.total_ms': n % 10,
    ...extra,
  });

/** A writer whose file is the spool of a shipper, as openConfiguredAudit builds it. */
async function spooled(chain: string, opts: { rotateBytes?: number; dir?: string } = {}) {
  const spool = join(opts.dir ?? tempDir('pg-spool-'), 'audit.jsonl');
  const wopts = { destination: { path: spool }, ...(opts.rotateBytes ? { rotateBytes: opts.rotateBytes } : {}) };
  const { sink, head } = await FileSink.open(spool, wopts, Date.now, () => {});
  const shipper = new PgShipper({ pool, table: TABLE, chain, spool, batch: 7 });
  const writer = new AuditWriter(
    new SpoolSink(sink, () => shipper.wake()),
    head === GENESIS_HASH ? ((await store.chainHead(chain)) ?? GENESIS_HASH) : head,
    wopts,
    spool,
  );
  shipper.start();
  return { spool, shipper, writer };
}

const count = async (where = 'true', params: unknown[] = []) =>
  Number((await pool.query(`SELECT count(*)::int AS n FROM ${TABLE} WHERE ${where}`, params)).rows[0].n);

describe.skipIf(!enabled)('PostgreSQL audit store', () => {
  it('ships every acknowledged line exactly, in chain order, once; a restart re-ships nothing', async () => {
    const a = await spooled('chain-a', { rotateBytes: 4096 });
    const hostile = { nul: 'a\u0000b', lone: 'x\uD800y', 'k\u0000': ['\uDC00'] };
    const ids: string[] = [];
    for (let round = 0; round < 6; round++) {
      const batch = Array.from({ length: 9 }, (_, i) =>
        rec('gw-a', round === 2 && i === 4 ? { 'tollgate.request.arguments': hostile } : {}),
      );
      for (const r of batch) ids.push(r['tollgate.record.id']);
      await Promise.all(batch.map((r) => a.writer.append(r)));
    }
    await a.shipper.drained();
    expect(a.writer.stats.rotations).toBeGreaterThan(0); // the shipper followed the spool across rotations
    const rows = await pool.query<{ record_id: string; line: string; arguments: unknown }>(
      `SELECT record_id, line, arguments FROM ${TABLE} WHERE chain = 'chain-a' ORDER BY id`,
    );
    expect(rows.rows.map((r) => r.record_id)).toEqual(ids);
    const spoolLines: string[] = [];
    for await (const r of readAudit(join(a.spool, '..'))) spoolLines.push(JSON.stringify(r));
    expect(rows.rows.map((r) => JSON.parse(r.line))).toEqual(spoolLines.map((l) => JSON.parse(l)));
    const bad = rows.rows.find((r) => r.line.includes('\\u0000'));
    expect(bad?.arguments).toEqual({ nul: 'a\uFFFDb', lone: 'x\uFFFDy', 'k\uFFFD': ['\uFFFD'] });
    expect(await verifyPgChains(store, false)).toMatchObject({ ok: true });
    await a.writer.close();
    await a.shipper.close();

    // A new shipper on the same spool (a restart) finds the chain's last row and ships nothing twice.
    const again = new PgShipper({ pool, table: TABLE, chain: 'chain-a', spool: a.spool, batch: 100 });
    again.start();
    await again.drained();
    expect(again.shipped).toBe(0);
    expect(await count(`chain = 'chain-a'`)).toBe(ids.length);
    await again.close();
  });

  it('a new spool of a known chain continues it; lines not in PostgreSQL yet are shipped at start', async () => {
    const dir = tempDir('pg-spool-');
    const b = await spooled('chain-b', { dir });
    await Promise.all([rec('gw-b'), rec('gw-b')].map((r) => b.writer.append(r)));
    await b.shipper.drained();
    await b.shipper.close(); // "PostgreSQL gone": these two wait in the spool
    await Promise.all([rec('gw-b'), rec('gw-b'), rec('gw-b')].map((r) => b.writer.append(r)));
    await b.writer.close();
    expect(await count(`chain = 'chain-b'`)).toBe(2);
    const restarted = new PgShipper({ pool, table: TABLE, chain: 'chain-b', spool: b.spool, batch: 100 });
    restarted.start();
    await restarted.drained();
    expect(restarted.shipped).toBe(3);
    await restarted.close();
    // The disk is lost: a fresh spool with the same chain id continues the chain from its last row.
    const fresh = await spooled('chain-b');
    await fresh.writer.append(rec('gw-b2'));
    await fresh.shipper.drained();
    await fresh.writer.close();
    await fresh.shipper.close();
    expect(await count(`chain = 'chain-b'`)).toBe(6);
    expect(await verifyPgChains(store, false)).toMatchObject({ ok: true });
  });

  it('reads the fleet newest first with filters and a cursor; charts agree with the JSONL computation', async () => {
    const all: AuditLine[] = [];
    for await (const r of store.records({})) all.push(r);
    expect(new Set(all.map((r) => r['service.instance.id']))).toEqual(new Set(['gw-a', 'gw-b', 'gw-b2']));
    expect(await store.instances()).toEqual(['gw-a', 'gw-b', 'gw-b2']);
    const first = await store.page({ limit: 10 });
    expect(first.records.map((r) => r['tollgate.record.id'])).toEqual(
      all
        .slice(-10)
        .reverse()
        .map((r) => r['tollgate.record.id']),
    );
    const second = await store.page({ limit: 10, cursor: first.nextCursor! });
    expect(second.records.map((r) => r['tollgate.record.id'])).toEqual(
      all
        .slice(-20, -10)
        .reverse()
        .map((r) => r['tollgate.record.id']),
    );
    const pick = (q: Parameters<PgAuditStore['records']>[0]) => async () => {
      const out = [];
      for await (const r of store.records(q)) out.push(r['tollgate.record.id']);
      return out;
    };
    const ids = (f: (r: AuditRecord) => boolean) => all.filter(f).map((r) => r['tollgate.record.id']);
    expect(await pick({ agent: 'alice' })()).toEqual(ids((r) => r['gen_ai.agent.id'] === 'alice'));
    expect(await pick({ tool: 'github__*' })()).toEqual(ids((r) => r['gen_ai.tool.name'] === 'github__search'));
    expect(await pick({ tool: 'rea?' })()).toEqual(ids((r) => r['tollgate.target.native'] === 'read'));
    expect(await pick({ tool: '%' })()).toEqual([]); // LIKE's wildcard is literal in a glob
    expect(await pick({ decision: ['denied'] })()).toEqual(ids((r) => r['tollgate.decision'] === 'denied'));
    // Globs as the JSONL filter takes them (`approval_*`); `_` is literal there, not LIKE's one character.
    expect(await pick({ decision: ['den*'] })()).toEqual(ids((r) => r['tollgate.decision'] === 'denied'));
    expect(await pick({ decision: ['allowe_'] })()).toEqual([]);
    expect(await pick({ instance: 'gw-b' })()).toEqual(ids((r) => r['service.instance.id'] === 'gw-b'));
    expect(await pick({ limit: 3 })()).toEqual(all.slice(-3).map((r) => r['tollgate.record.id']));

    const range = chartRange({}, Date.now() + 1000);
    const fromPg = await store.charts({}, range);
    const fromJs = await chartsFromRecords(all, range);
    expect(fromPg).toEqual(fromJs);
    expect(fromPg.total).toBe(all.length);
  });

  it('as the config opens it: a chain id kept beside a spool in a new folder, records shipped', async () => {
    const dir = join(tempDir('pg-open-'), 'not', 'yet');
    const { config } = parseConfigText(
      `upstreams:\n  a: { transport: streamable_http, url: "http://127.0.0.1:1/mcp" }\naudit:\n  file: ${dir}/audit.jsonl\n  postgres: { url: "${db.url}", table: ${TABLE} }\n`,
      '/x/tollgate.yaml',
      {},
    );
    const opened = await openConfiguredAudit(config, pino({ level: 'silent' }));
    await opened.writer!.append(rec('gw-open'));
    await opened.fleet!.shipper.drained();
    const chain = readFileSync(join(dir, 'audit.chain-id'), 'utf8').trim();
    expect(opened.fleet!.chain).toBe(chain);
    expect(await count('chain = $1', [chain])).toBe(1);
    await opened.writer!.close();
    await opened.close();
  });

  it('verify finds an edited row; retention deletes old rows in batches and old rotated files', async () => {
    await pool.query(
      `UPDATE ${TABLE} SET line = replace(line, '"query', '"QUERY') WHERE id = (SELECT id FROM ${TABLE} WHERE chain = 'chain-a' ORDER BY id OFFSET 3 LIMIT 1)`,
    );
    const v = await verifyPgChains(store, false);
    expect(v.ok).toBe(false);
    expect(v.broken).toMatchObject({ chain: 'chain-a', row: 5 });

    const before = await count();
    await pool.query(`UPDATE ${TABLE} SET ts = now() - interval '100 days' WHERE chain = 'chain-a'`);
    const old = await count(`chain = 'chain-a'`);
    expect(await pruneRows(pool, TABLE, Date.now() - 90 * 86_400_000, 10)).toBe(old);
    expect(await count()).toBe(before - old);

    const dir = tempDir('pg-ret-');
    const active = join(dir, 'audit.jsonl');
    const names = ['audit.000001.20200101T000000Z.jsonl', 'audit.000002.20200102T000000Z.jsonl'];
    const recent = `audit.000003.${new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}Z$/, 'Z')}.jsonl`;
    for (const f of [...names, recent, 'audit.jsonl']) writeFileSync(join(dir, f), '{}\n');
    utimesSync(join(dir, recent), new Date(), new Date());
    // The shipper has not finished the second file: it stays, and so does everything after it.
    const kept = await pruneFiles(
      active,
      { maxAgeMs: 90 * 86_400_000, mayDelete: async (p) => p.includes('000001') },
      Date.now(),
    );
    expect(kept.map((p) => p.slice(dir.length + 1))).toEqual([names[0]]);
    expect(await pruneFiles(active, { maxFiles: 1 }, Date.now())).toEqual([join(dir, names[1]!)]);
  });
});

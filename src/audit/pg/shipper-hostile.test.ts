// The shipper against what an agent can put into a spool line (a database of its own, dropped after):
// a record an agent made longer than the shipper's read chunk must be shipped like any other, not
// stop every later record from reaching the table.
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditRecord, GENESIS_HASH } from '../record.js';
import { createRedactor } from '../redact.js';
import { FileSink } from '../sinks.js';
import { AuditWriter } from '../writer.js';
import { verifyPgChains } from '../../cli/audit-postgres.js';
import { SpoolSink } from './fleet.js';
import { migrate } from './migrate.js';
import { PgShipper } from './shipper.js';
import { PgAuditStore } from './store.js';
import { createTestDatabase, postgresAvailable, testPool, type TestDatabase } from '../../../test/helpers/postgres.js';
import { tempDir } from '../../../test/helpers/tmp.js';

const enabled = await postgresAvailable();
const TABLE = 'audit_hostile';
let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  if (!enabled) return;
  db = await createTestDatabase();
  pool = testPool(db.url);
  await migrate(pool, TABLE);
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const rec = (tool: string, args: Record<string, unknown> | null = null) =>
  createAuditRecord({
    'service.instance.id': 'gw',
    'gen_ai.agent.id': 'mallory',
    'tollgate.auth.method': 'api_key',
    'mcp.method.name': 'tools/call',
    'gen_ai.tool.name': tool,
    'tollgate.request.arguments': args as never,
    'tollgate.decision': 'allowed',
    'tollgate.outcome': 'ok',
    'tollgate.latency.total_ms': 1,
  });

/** Resolves when everything is shipped, or with the shipper's error once it reports the table down. */
function shippedOrFailed(shipper: PgShipper, failures: Error[]): Promise<'drained' | Error> {
  return new Promise((resolve) => {
    void shipper.drained().then(() => resolve('drained'));
    failures.push = (e: Error) => {
      resolve(e);
      return 0;
    };
  });
}

describe.skipIf(!enabled)('the PostgreSQL shipper and hostile lines', () => {
  it('ships a record longer than its read chunk, and the records after it', async () => {
    const spool = join(tempDir('pg-hostile-'), 'audit.jsonl');
    // As configured (audit.max_value_bytes 2048): each value is cut, but 700 keys of 2000 bytes — and
    // a long key, which is never cut — make a line of ~2.5 MB from a 2.5 MB request (under 4 MiB).
    const redact = createRedactor({ keys: [], maxValueBytes: 2048 });
    const wopts = { destination: { path: spool }, redact };
    const { sink } = await FileSink.open(spool, {}, Date.now, () => {});
    const failures: Error[] = [];
    const shipper = new PgShipper({
      pool,
      table: TABLE,
      chain: 'hostile',
      spool,
      batch: 50,
      retryMaxMs: 50,
      onState: (s, err) => {
        if (s === 'down' && err) failures.push(err);
      },
    });
    const writer = new AuditWriter(new SpoolSink(sink, () => shipper.wake()), GENESIS_HASH, wopts, spool);
    shipper.start();
    const big: Record<string, string> = { ['k'.repeat(600_000)]: 'v' };
    for (let i = 0; i < 700; i++) big[`a${i}`] = 'x'.repeat(2000);
    const records = [rec('before'), rec('huge', big), rec('after')];
    for (const r of records) await writer.append(r);
    const outcome = await shippedOrFailed(shipper, failures);
    await writer.close();
    await shipper.close();
    expect(outcome).toBe('drained');
    const rows = await pool.query<{ tool: string; n: number }>(
      `SELECT tool, length(line) AS n FROM ${TABLE} WHERE chain = 'hostile' ORDER BY id`,
    );
    expect(rows.rows.map((r) => r.tool)).toEqual(['before', 'huge', 'after']);
    expect(rows.rows[1]!.n).toBeGreaterThan(1024 * 1024);
    expect(await verifyPgChains(new PgAuditStore(pool, TABLE), false)).toMatchObject({ ok: true });
  });
});

// A pod comes back on a new disk (a fresh spool, the same instance id) while PostgreSQL is down: it
// cannot learn where its chain ended, so it must not start that chain again from genesis — the table
// would hold the chain, then a second genesis, and `verify --postgres` would call the log broken for
// ever. (A database of its own, dropped after; PostgreSQL is cut through a TCP proxy.)
import { generateKeyPairSync } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPgChains } from '../../cli/audit-postgres.js';
import { parseConfigText } from '../../config/load.js';
import { loadPublicKeys } from '../checkpoint.js';
import { openConfiguredAudit } from '../open.js';
import { createAuditRecord } from '../record.js';
import { PgAuditStore } from './store.js';
import { createTestDatabase, postgresAvailable, testPool, type TestDatabase } from '../../../test/helpers/postgres.js';
import { startProxy, type TcpProxy } from '../../../test/helpers/redis.js';
import { tempDir } from '../../../test/helpers/tmp.js';

const enabled = await postgresAvailable();
const T = 'audit_fresh_down';
let db: TestDatabase;
let pool: pg.Pool;
let proxy: TcpProxy;

beforeAll(async () => {
  if (!enabled) return;
  db = await createTestDatabase();
  pool = testPool(db.url);
  proxy = await startProxy(5432);
});
afterAll(async () => {
  await proxy?.close().catch(() => {});
  await pool?.end();
  await db?.drop();
});

const rec = (i: number) =>
  createAuditRecord({
    'service.instance.id': 'gw-stateful-0',
    'gen_ai.agent.id': 'alice',
    'tollgate.auth.method': 'api_key',
    'mcp.method.name': 'tools/call',
    'gen_ai.tool.name': `fs__write_${i}`,
    'tollgate.decision': 'allowed',
    'tollgate.outcome': 'ok',
    'tollgate.latency.total_ms': 1,
  });

describe.skipIf(!enabled)('a fresh spool while PostgreSQL is down', () => {
  it('ships as a chain of its own: every chain verifies, every record once', async () => {
    const dir = tempDir('pg-fresh-down-');
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'k.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(join(dir, 'k.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    const { config } = parseConfigText(
      `server: { instance_id: "gw stateful/0" }
upstreams: { a: { transport: streamable_http, url: "http://127.0.0.1:1/mcp" } }
audit:
  file: spool/audit.jsonl
  signing_key_file: k.pem
  checkpoint: { every_records: 2 }
  postgres: { url: "${db.urlVia(proxy.port)}", table: ${T} }
`,
      join(dir, 'tollgate.yaml'),
      {},
    );
    let n = 0;
    const life = async (records: number, during?: () => Promise<void>) => {
      const audit = await openConfiguredAudit(config, pino({ level: 'silent' }));
      for (let i = 0; i < records; i++) await audit.writer!.append(rec(n++));
      await audit.writer!.close();
      await during?.();
      await audit.fleet!.shipper.drained();
      await audit.close();
    };
    await life(3);
    rmSync(join(dir, 'spool'), { recursive: true }); // the pod comes back on a new disk…
    await proxy.close(); // …and PostgreSQL cannot be reached
    await life(3, () => proxy.reopen()); // its records wait in the spool, shipped once it is back
    await life(2); // a later restart on that disk goes on with the spool's own chain

    const store = new PgAuditStore(pool, T);
    const result = await verifyPgChains(store, false, { publicKeys: loadPublicKeys([join(dir, 'k.pub.pem')]) });
    expect(result.broken).toBeUndefined();
    expect(result).toMatchObject({ ok: true, records: 8 });
    for (const s of result.sets) expect(s.unsignedTail).toBeUndefined();
    const rows = await pool.query<{ tool: string; instance: string }>(
      `SELECT tool, instance FROM ${T} WHERE is_record ORDER BY ts, id`,
    );
    expect(rows.rows.map((r) => r.tool)).toEqual(Array.from({ length: 8 }, (_, i) => `fs__write_${i}`));
    expect(new Set(rows.rows.map((r) => r.instance))).toEqual(new Set(['gw-stateful-0']));
  });
});

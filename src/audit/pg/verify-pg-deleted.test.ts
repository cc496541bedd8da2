// An insider with the database deletes every row of one instance's chain: the other chains still
// verify, so only the anchor (checkpoints kept elsewhere) can show it — and it must, not as a note
// (a database of its own, dropped after).
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditCommand } from '../../cli/audit.js';
import { keyIdOf } from '../checkpoint.js';
import { createAuditRecord, GENESIS_HASH } from '../record.js';
import { FileSink } from '../sinks.js';
import { AuditWriter } from '../writer.js';
import { SpoolSink } from './fleet.js';
import { migrate } from './migrate.js';
import { PgShipper } from './shipper.js';
import { createTestDatabase, postgresAvailable, testPool, type TestDatabase } from '../../../test/helpers/postgres.js';
import { tempDir } from '../../../test/helpers/tmp.js';

const enabled = await postgresAvailable();
const T = 'audit_deleted';
let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  if (!enabled) return;
  db = await createTestDatabase();
  pool = testPool(db.url);
  await migrate(pool, T);
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const { privateKey, publicKey } = generateKeyPairSync('ed25519');

async function verify(argv: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await auditCommand(['verify', '--postgres', db.url, '--table', T, ...argv], {
    stdout,
    stderr,
    isTTY: false,
  });
  return { code, out };
}

describe.skipIf(!enabled)('verify --postgres against an anchor', () => {
  it('a chain the anchor knows and the table no longer has is BROKEN (1), with --partial too, unless retention explains it', async () => {
    const dir = tempDir('pg-deleted-');
    const pub = join(dir, 'audit-key.pub.pem');
    writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
    const anchorLines: string[] = [];
    for (const chain of ['gw-a', 'gw-b']) {
      const spool = join(dir, chain, 'audit.jsonl');
      const wopts = {
        destination: { path: spool },
        instanceId: chain,
        checkpoints: {
          key: { privateKey, keyId: keyIdOf(privateKey) },
          everyRecords: 3,
          everyMs: 3_600_000,
          heartbeatMs: 3_600_000,
          onCheckpoint: (_l: string, checkpoint: object) =>
            anchorLines.push(JSON.stringify({ checkpoint, msg: 'audit checkpoint' })),
        },
      };
      const { sink } = await FileSink.open(spool, {}, Date.now, () => {});
      const shipper = new PgShipper({ pool, table: T, chain, spool, batch: 5 });
      const writer = new AuditWriter(new SpoolSink(sink, () => shipper.wake()), GENESIS_HASH, wopts, spool);
      shipper.start();
      for (let i = 0; i < 7; i++)
        await writer.append(
          createAuditRecord({
            'service.instance.id': chain,
            'gen_ai.agent.id': 'mallory',
            'tollgate.auth.method': 'api_key',
            'mcp.method.name': 'tools/call',
            'gen_ai.tool.name': 'db__drop_table',
            'tollgate.decision': 'allowed',
            'tollgate.outcome': 'ok',
            'tollgate.latency.total_ms': 1,
          }),
        );
      await writer.close();
      await shipper.drained();
      await shipper.close();
    }
    const anchor = join(dir, 'gateway.log');
    writeFileSync(anchor, `${anchorLines.join('\n')}\n`);
    expect(await verify(['--public-key', pub, '--anchor', anchor])).toMatchObject({ code: 0 });

    await pool.query(`DELETE FROM ${T} WHERE chain = 'gw-b'`);
    for (const partial of [[], ['--partial']]) {
      const r = await verify(['--public-key', pub, '--anchor', anchor, ...partial]);
      expect(r.out).toMatch(
        /ANCHOR: chain [0-9a-f]{16} \(up to checkpoint #\d+, [^)]+\) is not in the table: its rows were deleted/,
      );
      expect(r.out).toMatch(/^BROKEN: the log does not match its anchor/m);
      expect(r.code).toBe(1);
    }
    // Retention (oldest rows first, across chains) could not have taken gw-b while keeping older
    // rows; had every kept row been younger than its checkpoints, that is what retention does: a note.
    await pool.query(`UPDATE ${T} SET ts = ts + interval '1 day'`);
    const aged = await verify(['--public-key', pub, '--anchor', anchor, '--partial']);
    expect(aged.out).toMatch(/note: anchor: chain [0-9a-f]{16} .* older than every line it keeps \(retention\)/);
    expect(aged.code).toBe(0);
  });
});

// `tollgate audit verify --postgres` against the real server (a database of its own, dropped after):
// two instances' chains written with a signing key and shipped through the spool, then verified with
// verifyChain/checkAnchors per chain — intact, a wrong key, an edited row with every hash after it
// recomputed, a deleted checkpoint row (relinked), a cut end (unsigned tail; cut-off against the
// anchor) — with the file form's wording and exit codes.
import { generateKeyPairSync } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditCommand } from '../../cli/audit.js';
import { parseConfigText } from '../../config/load.js';
import { openConfiguredAudit } from '../open.js';
import { verifyPgChains } from '../../cli/audit-postgres.js';
import { sha256Hex } from '../../sha256.js';
import { loadPublicKeys, loadSigningKey } from '../checkpoint.js';
import { createAuditRecord, type AuditRecord } from '../record.js';
import { FileSink } from '../sinks.js';
import { AuditWriter, type AuditWriterOptions } from '../writer.js';
import { SpoolSink } from './fleet.js';
import { migrate } from './migrate.js';
import { PgShipper } from './shipper.js';
import { PgAuditStore } from './store.js';
import { createTestDatabase, postgresAvailable, testPool, type TestDatabase } from '../../../test/helpers/postgres.js';
import { tempDir } from '../../../test/helpers/tmp.js';

const enabled = await postgresAvailable();
let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  if (!enabled) return;
  db = await createTestDatabase();
  pool = testPool(db.url);
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

let n = 0;
const rec = (instance: string): AuditRecord =>
  createAuditRecord({
    'service.instance.id': instance,
    'gen_ai.agent.id': 'alice',
    'tollgate.auth.method': 'api_key',
    'mcp.method.name': 'tools/call',
    'gen_ai.tool.name': 'github__search',
    'tollgate.decision': 'allowed',
    'tollgate.outcome': 'ok',
    'tollgate.request.arguments': { q: `query ${n++}` },
    'tollgate.latency.total_ms': 1,
  });

/** A writer whose file is the spool of a shipper, as openConfiguredAudit builds it. */
async function spooled(
  chain: string,
  opts: { table: string } & Pick<AuditWriterOptions, 'checkpoints' | 'instanceId'>,
) {
  const { table, ...rest } = opts;
  const spool = join(tempDir('pg-spool-'), 'audit.jsonl');
  const wopts = { destination: { path: spool }, ...rest };
  const { sink, head } = await FileSink.open(spool, {}, Date.now, () => {});
  const shipper = new PgShipper({ pool, table, chain, spool, batch: 7 });
  const writer = new AuditWriter(new SpoolSink(sink, () => shipper.wake()), head, wopts, spool);
  shipper.start();
  return { spool, shipper, writer };
}

describe.skipIf(!enabled)('tollgate audit verify --postgres', () => {
  it("verify --postgres checks every chain's signed checkpoints: 0 signed, 1 edited/deleted/wrong key, 3 unsigned tail", async () => {
    const T = 'audit_signed';
    await migrate(pool, T);
    const dir = tempDir('pg-sign-');
    const pair = (name: string) => {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const priv = join(dir, `${name}.pem`);
      const pub = join(dir, `${name}.pub.pem`);
      writeFileSync(priv, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
      return { priv, pub };
    };
    const key = pair('audit-key');
    const other = pair('other-key');
    const anchorLines: string[] = [];
    const writers = await Promise.all(
      ['sig-1', 'sig-2'].map((chain) =>
        spooled(chain, {
          table: T,
          instanceId: `gw-${chain}`,
          checkpoints: {
            key: loadSigningKey(key.priv),
            everyRecords: 4,
            everyMs: 3_600_000,
            heartbeatMs: 3_600_000,
            onCheckpoint: (_l, checkpoint) => anchorLines.push(JSON.stringify({ checkpoint, msg: 'audit checkpoint' })),
          },
        }),
      ),
    );
    // Two instances at once: 10 records each → checkpoints after 4 and 8, 2 records, a shutdown checkpoint.
    for (let i = 0; i < 10; i++) for (const [j, w] of writers.entries()) await w.writer.append(rec(`gw-sig-${j + 1}`));
    for (const w of writers) {
      await w.writer.close();
      await w.shipper.drained();
      await w.shipper.close();
    }
    const anchor = join(dir, 'gateway.log');
    writeFileSync(anchor, `${anchorLines.join('\n')}\n`);

    const run = async (argv: string[]) => {
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let out = '';
      stdout.on('data', (d: Buffer) => (out += d.toString()));
      stderr.on('data', (d: Buffer) => (out += d.toString()));
      const code = await auditCommand(['verify', ...argv], { stdout, stderr, isTTY: false });
      return { code, out };
    };
    const pgArgs = ['--postgres', db.url, '--table', T];
    const signed = ['--public-key', key.pub];

    const direct = await verifyPgChains(new PgAuditStore(pool, T), false, { publicKeys: loadPublicKeys([key.pub]) });
    expect(direct).toMatchObject({ ok: true, chains: 2, records: 20, checkpoints: 6 });
    expect(direct.sets.map((s) => [s.stem, s.unsignedTail, s.stale, s.lastCheckpoint?.reason])).toEqual([
      ['chain sig-1', undefined, undefined, 'shutdown'],
      ['chain sig-2', undefined, undefined, 'shutdown'],
    ]);
    const ok = await run([...pgArgs, ...signed, '--anchor', anchor]);
    expect(ok.out).toMatch(/^chain sig-1: 10 records, 3 checkpoints \(signatures valid\), the last #3 \(shutdown\)/m);
    expect(ok.out).toMatch(
      /OK: 20 records in 2 chains, every chain intact, every record signed, 6 anchored checkpoints agree\n$/,
    );
    expect(ok.code).toBe(0);
    expect((await run(pgArgs)).out).toMatch(
      /every chain intact \(6 checkpoints; signatures not checked: give --public-key\)/,
    );
    // The config form: audit.postgres of -c.
    const cfg = join(dir, 'tollgate.yaml');
    writeFileSync(
      cfg,
      `upstreams:\n  a: { transport: streamable_http, url: "http://127.0.0.1:1/mcp" }\naudit:\n  file: ${dir}/spool.jsonl\n  postgres: { url: "${db.url}", table: ${T} }\n`,
    );
    expect(await run(['-c', cfg, ...signed])).toMatchObject({ code: 0 });

    const wrong = await run([...pgArgs, '--public-key', other.pub]);
    expect(wrong.out).toMatch(
      /^BROKEN in chain sig-1 at row 5: checkpoint #1 is signed with key id [0-9a-f]{16}, which is not among the given public keys\n$/,
    );
    expect(wrong.code).toBe(1);
    expect((await run([...pgArgs, '--public-key', join(dir, 'nope.pem')])).code).toBe(2);

    // Tampering as someone with write access to the table but not the key, undone after each check.
    const rows = async (chain: string) =>
      (
        await pool.query<{ rid: string; line: string }>(
          `SELECT id::text AS rid, line FROM ${T} WHERE chain = $1 ORDER BY id`,
          [chain],
        )
      ).rows;
    /** Rewrites a chain: `edit` changes or drops lines, then every link after is recomputed (and checkpoint heads). */
    const rewrite = async (chain: string, edit: (lines: string[]) => (string | undefined)[]) => {
      const before = await rows(chain);
      const after = edit(before.map((r) => r.line));
      let prev: string | undefined;
      for (const [i, r] of before.entries()) {
        let line = after[i];
        if (line === undefined) {
          await pool.query(`DELETE FROM ${T} WHERE id = $1`, [r.rid]);
          continue;
        }
        if (prev !== undefined) {
          const o = JSON.parse(line) as Record<string, unknown>;
          o.prev = prev;
          if (o['tollgate.checkpoint.head'] !== undefined) o['tollgate.checkpoint.head'] = prev;
          line = JSON.stringify(o);
        }
        prev = sha256Hex(line);
        if (line !== r.line)
          await pool.query(`UPDATE ${T} SET line = $2, hash = $3 WHERE id = $1`, [r.rid, line, prev]);
      }
    };
    const tampered = async (change: () => Promise<void>, argv: string[] = []) => {
      await pool.query(`CREATE TABLE snap AS SELECT * FROM ${T}`);
      try {
        await change();
        return await run([...pgArgs, ...signed, ...argv]);
      } finally {
        await pool.query(`TRUNCATE ${T}`);
        await pool.query(`INSERT INTO ${T} OVERRIDING SYSTEM VALUE SELECT * FROM snap`);
        await pool.query('DROP TABLE snap');
      }
    };

    // An edited record, every hash after it recomputed: the checkpoint above no longer verifies.
    const edited = await tampered(() =>
      rewrite('sig-2', (l) => l.map((x, i) => (i === 1 ? x.replace('"query', '"QUERY') : x))),
    );
    expect(edited.out).toMatch(
      /^BROKEN in chain sig-2 at row 5: checkpoint #1: the signature does not verify: the checkpoint was edited or forged, or the chain was rewritten and recomputed\n$/,
    );
    expect(edited.code).toBe(1);
    // Without recomputing, the link breaks at the next row (as before signatures).
    const relinked = await tampered(async () => {
      await pool.query(`UPDATE ${T} SET line = replace(line, '"query', '"QUERY') WHERE id = $1`, [
        (await rows('sig-1'))[2]!.rid,
      ]);
    });
    expect(relinked.out).toMatch(/^BROKEN in chain sig-1 at row 4: prev does not match row 3: row 3 was edited/);

    // A deleted checkpoint row (the links re-made): the next checkpoint counts one line more than there is.
    const deleted = await tampered(() => rewrite('sig-1', (l) => l.map((x, i) => (i === 4 ? undefined : x))));
    expect(deleted.out).toMatch(
      /^BROKEN in chain sig-1 at row 9: checkpoint #2 says 9 lines precede it, the chain has 8: lines were removed or added below it/,
    );
    expect(deleted.code).toBe(1);

    // The end cut (the shutdown checkpoint deleted): the last records are unsigned (3); the anchor says cut (1).
    const cut = async () => {
      const r = await rows('sig-2');
      await pool.query(`DELETE FROM ${T} WHERE id = $1`, [r.at(-1)!.rid]);
    };
    const tail = await tampered(cut);
    expect(tail.out).toMatch(
      /^chain sig-2: 10 records, 2 checkpoints \(signatures valid\), the last #2 \(records\) at .*\n {2}UNSIGNED TAIL: 2 records after checkpoint #2, from row 11, the oldest \d+ s old \(a running writer signs them/m,
    );
    expect(tail.out).toMatch(
      /INCOMPLETE: 20 records in 2 chains, every chain intact, but not every record is signed\n$/,
    );
    expect(tail.code).toBe(3);
    const anchored = await tampered(cut, ['--anchor', anchor]);
    expect(anchored.out).toMatch(/ANCHOR: chain [0-9a-f]+: the anchor holds checkpoint #3 .* the log was cut off/);
    expect(anchored.code).toBe(1);

    expect((await run([...pgArgs, ...signed])).code).toBe(0); // every change was undone
  });

  it('a fresh spool (new disk, same chain id) goes on counting from the chain in the table: still every record signed', async () => {
    const dir = tempDir('pg-fresh-');
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'k.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(join(dir, 'k.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    const { config } = parseConfigText(
      `server: { instance_id: gw-stateful-0 }
upstreams: { a: { transport: streamable_http, url: "http://127.0.0.1:1/mcp" } }
audit:
  file: spool/audit.jsonl
  signing_key_file: k.pem
  checkpoint: { every_records: 2 }
  postgres: { url: "${db.url}", table: audit_fresh }
`,
      join(dir, 'tollgate.yaml'),
      {},
    );
    const life = async (records: number) => {
      const audit = await openConfiguredAudit(config, pino({ level: 'silent' }));
      for (let i = 0; i < records; i++) await audit.writer!.append(rec('gw-stateful-0'));
      await audit.writer!.close();
      await audit.close();
    };
    await life(3); // 3 records, checkpoints #1 (after 2) and #2 (shutdown)
    rmSync(join(dir, 'spool'), { recursive: true }); // the pod comes back on a new disk
    await life(3); // continues the table's chain: #3, #4 (shutdown)
    const store = new PgAuditStore(pool, 'audit_fresh');
    const result = await verifyPgChains(store, false, { publicKeys: loadPublicKeys([join(dir, 'k.pub.pem')]) });
    expect(result).toMatchObject({ ok: true, chains: 1, records: 6, checkpoints: 4 });
    expect(result.sets[0]?.unsignedTail).toBeUndefined();
  });
});

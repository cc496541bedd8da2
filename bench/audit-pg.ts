/**
 * The audit step's cost with JSONL vs PostgreSQL (`audit.postgres`), and sustained records/s into
 * PostgreSQL: `node --import tsx bench/audit-pg.ts` (part of `npm run bench`). Needs PostgreSQL at
 * 127.0.0.1:5432 (trust auth; BENCH_PG_URL overrides); makes a database of its own and drops it.
 *
 * In process, like the gateway: AuditRecorder.write() of a typical tools/call record, CONCURRENCY at a
 * time (a gateway under load), N records per variant:
 *   jsonl      — the file only (today's audit);
 *   postgres   — the file as spool, shipped to PostgreSQL by the shipper in the same process (what
 *                `audit.postgres` runs): ack latency is the spool write; CPU includes the shipping;
 *   commit-ack — the same, but each round waits until PostgreSQL committed it (what acknowledging
 *                after the commit would cost): the design not taken, measured for the README.
 * Then: records/s shipped from a spool that already holds SUSTAINED records (catch-up after an outage),
 * and records/s end to end with writers appending as fast as they can.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createAuditRecord, GENESIS_HASH, type AuditRecord } from '../src/audit/record.js';
import { AuditRecorder } from '../src/audit/step.js';
import { FileSink } from '../src/audit/sinks.js';
import { AuditWriter, openAuditWriter, type AuditWriterOptions } from '../src/audit/writer.js';
import { SpoolSink } from '../src/audit/pg/fleet.js';
import { migrate } from '../src/audit/pg/migrate.js';
import { PgShipper } from '../src/audit/pg/shipper.js';

const N = Number(process.env.BENCH_AUDIT_RECORDS) || 20_000;
const CONCURRENCY = 32;
const SUSTAINED = Number(process.env.BENCH_AUDIT_SUSTAINED) || 50_000;
const ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const record = (i: number): AuditRecord =>
  createAuditRecord({
    'service.instance.id': 'bench',
    'gen_ai.agent.id': `agent-${i % 7}`,
    'tollgate.auth.method': 'api_key',
    'mcp.method.name': 'tools/call',
    'mcp.session.id': 'a1b2c3d4e5f60718',
    'tollgate.upstream.name': 'github',
    'gen_ai.tool.name': 'github__search_issues',
    'tollgate.target.native': 'search_issues',
    'tollgate.request.arguments': { query: `is:open label:bug repo:acme/app ${i}`, per_page: 20 },
    'tollgate.decision': 'allowed',
    'tollgate.outcome': 'ok',
    'tollgate.result.bytes': 1834,
    'tollgate.result.sha256': 'f'.repeat(64),
    'tollgate.latency.total_ms': 12.3,
    'tollgate.latency.upstream_ms': 11.9,
  });

const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(q * s.length) - 1)] ?? 0;
};

interface Variant {
  name: string;
  recorder: AuditRecorder;
  /** Resolves when what was written so far is in PostgreSQL (postgres variants). */
  drained?: () => Promise<void>;
  commitAck?: boolean;
  close(): Promise<void>;
}

async function measure(v: Variant) {
  const lat: number[] = [];
  // warm-up
  for (let i = 0; i < 2000; i += CONCURRENCY)
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, k) => v.recorder.write(record(i + k))));
  await v.drained?.();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < N; i += CONCURRENCY) {
    const start = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, k) => {
        const s = performance.now();
        await v.recorder.write(record(i + k));
        if (!v.commitAck) lat.push(performance.now() - s);
      }),
    );
    if (v.commitAck) {
      await v.drained!();
      const ms = performance.now() - start;
      for (let k = 0; k < CONCURRENCY; k++) lat.push(ms);
    }
  }
  await v.drained?.(); // CPU of shipping counts for the postgres variants
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  return {
    variant: v.name,
    records: N,
    cpu_us_per_record: Math.round(((cpu.user + cpu.system) / N) * 10) / 10,
    ack_p50_ms: Math.round(pct(lat, 0.5) * 1000) / 1000,
    ack_p99_ms: Math.round(pct(lat, 0.99) * 1000) / 1000,
    records_per_s: Math.round(N / (wall / 1000)),
  };
}

async function pgVariant(name: string, url: string, table: string, dir: string, commitAck: boolean): Promise<Variant> {
  const spool = join(dir, `${name}.jsonl`);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  await migrate(pool, table);
  const opts: AuditWriterOptions = { destination: { path: spool }, rotateBytes: 100 * 1024 * 1024 };
  const { sink } = await FileSink.open(spool, opts, Date.now, () => {});
  const shipper = new PgShipper({ pool, table, chain: name, spool, batch: 500 });
  const writer = new AuditWriter(new SpoolSink(sink, () => shipper.wake()), GENESIS_HASH, opts, spool);
  shipper.start();
  return {
    name,
    recorder: new AuditRecorder(writer, 'bench'),
    drained: () => shipper.drained(),
    commitAck,
    async close() {
      await writer.close();
      await shipper.close();
      await pool.end();
    },
  };
}

async function main() {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  try {
    await admin.connect();
  } catch (err) {
    console.log(`audit-pg bench SKIPPED: no PostgreSQL at ${ADMIN_URL} (${(err as Error).message})`);
    return;
  }
  const dbName = `tollgate_bench_${process.pid}`;
  await admin.query(`CREATE DATABASE "${dbName}" ENCODING 'UTF8' TEMPLATE template0`);
  const url = ADMIN_URL.replace(/\/[^/]*$/, `/${dbName}`);
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-audit-'));
  const results = [];
  try {
    const jsonlWriter = await openAuditWriter({ destination: { path: join(dir, 'jsonl.jsonl') } });
    const variants: (() => Promise<Variant>)[] = [
      async () => ({
        name: 'jsonl',
        recorder: new AuditRecorder(jsonlWriter, 'bench'),
        close: () => jsonlWriter.close(),
      }),
      () => pgVariant('postgres', url, 'bench_audit', dir, false),
      () => pgVariant('commit-ack', url, 'bench_audit', dir, true),
    ];
    for (const make of variants) {
      const v = await make();
      results.push(await measure(v));
      await v.close();
    }

    // Catch-up: a spool of SUSTAINED records written while PostgreSQL was away, then shipped.
    const spool = join(dir, 'catchup.jsonl');
    const w = await openAuditWriter({ destination: { path: spool } });
    for (let i = 0; i < SUSTAINED; i += 500)
      await Promise.all(Array.from({ length: 500 }, (_, k) => w.append(record(i + k))));
    await w.close();
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    const shipper = new PgShipper({ pool, table: 'bench_audit', chain: 'catchup', spool, batch: 500 });
    const t0 = performance.now();
    shipper.start();
    await shipper.drained();
    const catchup = Math.round(SUSTAINED / ((performance.now() - t0) / 1000));
    await shipper.close();

    // End to end: writers as fast as they go, until everything is in PostgreSQL.
    const e2e = await pgVariant('sustained', url, 'bench_audit', dir, false);
    const t1 = performance.now();
    for (let i = 0; i < SUSTAINED; i += 500)
      await Promise.all(Array.from({ length: 500 }, (_, k) => e2e.recorder.write(record(i + k))));
    await e2e.drained!();
    const sustained = Math.round(SUSTAINED / ((performance.now() - t1) / 1000));
    await e2e.close();
    await pool.end();

    console.log(`\naudit step, ${N} records, ${CONCURRENCY} at a time (load average ${loadavg()[0]!.toFixed(1)})`);
    console.table(results);
    console.log(`shipping a spool of ${SUSTAINED} records (catch-up): ${catchup} records/s`);
    console.log(`sustained end to end (write + ship + commit): ${sustained} records/s`);
    console.log(
      `BENCH_JSON ${JSON.stringify({ audit: results, catchup_records_per_s: catchup, sustained_records_per_s: sustained })}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
    await admin.end();
  }
}

await main();

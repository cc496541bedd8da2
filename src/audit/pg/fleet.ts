// The fleet audit store as one piece: a pool, the schema, the spool shipper, the reader (store), the
// live feed and the retention of rows. Opened by audit/open.ts when `audit.postgres` is configured.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { postgres } from './driver.js';
import type { Logger } from 'pino';
import { splitLogPath } from '../files.js';
import { GENESIS_HASH } from '../record.js';
import type { Sink } from '../sinks.js';
import type { AuditPostgresConfig } from './config.js';
import { PgFeed } from './feed.js';
import { migrate } from './migrate.js';
import { PgShipper, type ShipperState } from './shipper.js';
import { PgAuditStore } from './store.js';

export interface AuditFleet {
  readonly store: PgAuditStore;
  readonly feed: PgFeed;
  readonly shipper: PgShipper;
  readonly chain: string;
  readonly mode: 'spool' | 'fail_closed';
  /**
   * A fresh spool that could not learn where its chain ended (PostgreSQL unreachable at start) starts
   * a chain of its own, `<chain>.<random>`, kept beside the spool: started again from genesis under
   * the old id, the table would hold the chain, then a second genesis — broken for `verify` for ever.
   * Call before the shipper starts.
   */
  ownChain(): Promise<void>;
  /** Why a tool call must be refused now (fail_closed and PostgreSQL unreachable), else undefined. */
  refusal(): string | undefined;
  close(): Promise<void>;
}

/** A pool that never crashes the process: idle clients that lose the server report, not throw. */
export function auditPool(url: string, onError: (err: Error) => void, max = 4): pg.Pool {
  const pool = new (postgres().Pool)({
    connectionString: url,
    max,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    query_timeout: 30_000,
    keepAlive: true,
    application_name: 'tollgate-audit',
  });
  pool.on('error', onError);
  return pool;
}

/** What ownChain adds to a chain id. */
const OWN_SUFFIX = /^\.[0-9a-f]{8}$/;

const chainIdFile = (spool: string): string => {
  const { dir, stem } = splitLogPath(spool);
  return join(dir, `${stem}.chain-id`);
};

async function writeChainId(spool: string, id: string): Promise<void> {
  await mkdir(splitLogPath(spool).dir, { recursive: true });
  await writeFile(chainIdFile(spool), `${id}\n`, { mode: 0o640 });
}

/**
 * The chain id: configured (or this spool's own chain of it: see ownChain), else one kept beside the
 * spool (made once, when the spool is new).
 */
async function chainIdFor(cfg: AuditPostgresConfig, spool: string): Promise<string> {
  const existing = (await readFile(chainIdFile(spool), 'utf8').catch(() => '')).replace(/\n$/, '');
  if (cfg.chainId) {
    // server.instance_id may be any text: match the own chain ownChain made of it exactly.
    const own = existing.startsWith(`${cfg.chainId}.`) && OWN_SUFFIX.test(existing.slice(cfg.chainId.length));
    return own ? existing : cfg.chainId;
  }
  const kept = existing.trim();
  if (/^[A-Za-z0-9._:-]{1,128}$/.test(kept)) return kept;
  const id = `${hostname()
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .slice(0, 60)}-${randomBytes(6).toString('hex')}`;
  await writeChainId(spool, id);
  return id;
}

/** A sink that tells the shipper after each batch reaches the spool. */
/** The `prev` a chain line ends with (`…,"prev":"<64 hex>"}`). */
const prevOf = (line: Buffer): string | undefined =>
  /"prev":"([0-9a-f]{64})"\}$/.exec(line.subarray(-80).toString('latin1'))?.[1];

export class SpoolSink implements Sink {
  /**
   * @param earlier the chain's lines in the table, newest first from the line with a given hash:
   *   a spool that continues a chain the table already has (a fresh disk) has only part of it, and
   *   the checkpoint count must go on from the whole chain's (`start`: the head it continued from).
   */
  constructor(
    private readonly inner: Sink,
    private readonly written: () => void,
    private readonly earlier?: { start: string; lines: (hash: string) => AsyncIterable<Buffer> },
  ) {}
  get rotations(): number {
    return this.inner.rotations;
  }
  async write(buf: Buffer, now: number): Promise<void> {
    await this.inner.write(buf, now);
    this.written();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  // Signed checkpoints: the file's own lines, its rotation and sealing (see Sink).
  async *lastLines(): AsyncIterable<Buffer> {
    // The spool's own lines, then (when it continues the table's chain) the table's from where the
    // spool's oldest line links to. The reader stops at the first checkpoint, usually in the spool.
    let oldestPrev = this.earlier?.start;
    for await (const line of this.inner.lastLines?.() ?? []) {
      yield line;
      oldestPrev = prevOf(line);
    }
    if (this.earlier && oldestPrev !== undefined && oldestPrev !== GENESIS_HASH) yield* this.earlier.lines(oldestPrev);
  }
  rotationDue(incoming: number, now: number): boolean {
    return this.inner.rotationDue?.(incoming, now) ?? false;
  }
  async seal(buf: Buffer, now: number): Promise<void> {
    await this.inner.seal?.(buf, now);
    this.written();
  }
}

export async function openAuditFleet(cfg: AuditPostgresConfig, spool: string, log: Logger): Promise<AuditFleet> {
  // PostgreSQL down is the operator's to fix, not a bug: its reason in one line, not the driver's stack.
  const pool = auditPool(cfg.url, (err) => log.warn({ err: err.message }, 'audit PostgreSQL connection lost'));
  const chain = await chainIdFor(cfg, spool);
  const store = new PgAuditStore(pool, cfg.table);
  let migrated = false;
  const shipper = new PgShipper({
    pool,
    table: cfg.table,
    chain,
    spool,
    batch: cfg.batch,
    prepare: async () => {
      if (migrated) return;
      await migrate(pool, cfg.table);
      migrated = true;
    },
    onState: (state: ShipperState, err?: Error) => {
      if (state === 'down')
        log.warn(
          { err: err?.message, mode: cfg.mode },
          cfg.mode === 'fail_closed'
            ? 'audit PostgreSQL unreachable: tool calls are refused until it is back (records wait in the spool)'
            : 'audit PostgreSQL unreachable: records wait in the local spool and are shipped when it is back',
        );
      else if (state === 'up') log.info({ chain }, 'audit records are shipped to PostgreSQL');
    },
  });
  const feed = new PgFeed({
    pool,
    url: cfg.url,
    table: cfg.table,
    onError: (err) => log.debug({ err }, 'audit live feed'),
  });
  return {
    store,
    feed,
    shipper,
    get chain() {
      return shipper.chain;
    },
    mode: cfg.mode,
    async ownChain() {
      const own = `${chain}.${randomBytes(4).toString('hex')}`;
      await writeChainId(spool, own);
      shipper.chain = own;
      log.warn(
        { chain: own, continues: chain },
        'audit PostgreSQL unreachable at start with a new spool: its records start a chain of their own',
      );
    },
    refusal: () =>
      cfg.mode === 'fail_closed' && shipper.state !== 'up'
        ? `the audit store (PostgreSQL) is unreachable: tool calls are refused until it is back (audit.postgres.mode: fail_closed)`
        : undefined,
    async close() {
      // A clean stop ships what the writer last wrote (bounded: the rest waits in the spool for the next start).
      if (shipper.state === 'up') {
        let t: NodeJS.Timeout | undefined;
        await Promise.race([shipper.drained(), new Promise((r) => (t = setTimeout(r, 5000)))]);
        clearTimeout(t);
      }
      await shipper.close();
      await feed.stop();
      await pool.end().catch(() => {});
    },
  };
}

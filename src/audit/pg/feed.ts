// The fleet's live tail: every instance's records as they reach PostgreSQL. One feed per process,
// shared by every admin stream and CLI follower: a LISTEN connection wakes it when a shipper commits
// (pg_notify in the same statement), and a poll every few seconds covers a lost connection.
//
// Row ids are assigned at insert but commits of different instances can land out of id order, so each
// read looks back LOOKBACK ids below the highest seen and drops ids it has already delivered.
import { parseAuditLine } from '../parse-line.js';
import type pg from 'pg';
import { postgres } from './driver.js';
import type { AuditRecord } from '../record.js';
import { derivedName, quoteTable } from './migrate.js';

const LOOKBACK = 256;
const MAX_ROWS = 2000;

export interface FeedOptions {
  /** A pool for the reads, and the URL for the LISTEN connection (its own client). */
  pool: pg.Pool;
  url: string;
  table: string;
  pollMs?: number;
  onError?: (err: Error) => void;
}

export class PgFeed {
  private readonly listeners = new Set<(r: AuditRecord) => void>();
  private listenClient: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private high: bigint | undefined;
  private readonly seen = new Set<bigint>();
  private reading = false;
  private again = false;
  private stopped = true;

  constructor(private readonly o: FeedOptions) {}

  /** Same shape as AuditRecorder.onRecord, so the live-tail response takes either. */
  onRecord(l: (r: AuditRecord) => void): () => void {
    this.listeners.add(l);
    if (this.stopped) this.start();
    return () => {
      this.listeners.delete(l);
      if (this.listeners.size === 0) void this.stop();
    };
  }

  private start(): void {
    this.stopped = false;
    this.high = undefined;
    this.seen.clear();
    this.timer = setInterval(() => this.read(), this.o.pollMs ?? 2000);
    this.timer.unref();
    void this.listen();
    this.read();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const c = this.listenClient;
    this.listenClient = undefined;
    await c?.end().catch(() => {});
  }

  private async listen(): Promise<void> {
    if (this.stopped || this.listenClient) return;
    const c = new (postgres().Client)({ connectionString: this.o.url });
    this.listenClient = c;
    c.on('error', (err) => {
      this.o.onError?.(err);
      if (this.listenClient === c) this.listenClient = undefined;
      void c.end().catch(() => {});
    });
    c.on('notification', () => this.read());
    try {
      await c.connect();
      await c.query(`LISTEN "${derivedName(this.o.table, 'new')}"`);
    } catch (err) {
      this.o.onError?.(err as Error);
      if (this.listenClient === c) this.listenClient = undefined;
      await c.end().catch(() => {});
    }
  }

  /** Reads rows past the last seen (coalescing wake-ups that arrive while a read runs). */
  private read(): void {
    if (this.stopped) return;
    if (!this.listenClient) void this.listen();
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    void this.readOnce()
      .catch((err: Error) => this.o.onError?.(err))
      .finally(() => {
        this.reading = false;
        if (this.again) {
          this.again = false;
          this.read();
        }
      });
  }

  private async readOnce(): Promise<void> {
    const t = quoteTable(this.o.table);
    if (this.high === undefined) {
      // Start at the newest row: the stream shows what is written from now on.
      const r = await this.o.pool.query<{ m: string | null }>(`SELECT max(id)::text AS m FROM ${t}`);
      this.high = BigInt(r.rows[0]?.m ?? '0');
      return;
    }
    const low = this.high > LOOKBACK ? this.high - BigInt(LOOKBACK) : 0n;
    const r = await this.o.pool.query<{ rid: string; line: string }>(
      `SELECT id::text AS rid, line FROM ${t} WHERE id > $1::bigint AND is_record ORDER BY id LIMIT ${MAX_ROWS}`,
      [low.toString()],
    );
    for (const row of r.rows) {
      const id = BigInt(row.rid);
      if (this.seen.has(id) || id <= low) continue;
      this.seen.add(id);
      if (id > this.high) this.high = id;
      const rec = parseAuditLine(row.line) as AuditRecord | undefined;
      if (rec === undefined) continue;
      for (const l of this.listeners) l(rec);
    }
    const floor = this.high > LOOKBACK ? this.high - BigInt(LOOKBACK) : 0n;
    for (const id of this.seen) if (id <= floor) this.seen.delete(id);
    if (r.rows.length === MAX_ROWS) this.again = true;
  }
}

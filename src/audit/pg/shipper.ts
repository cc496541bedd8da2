// Ships the local spool (the JSONL audit files) to PostgreSQL, in chain order, batch by batch.
//
// Durability: the writer acknowledges a record once its line is in the spool (as without PostgreSQL),
// so a PostgreSQL outage or slowness never holds a response. The shipper follows the spool files by
// inode (across rotations), inserts each batch of lines with ON CONFLICT DO NOTHING (record ids), and
// moves its position only after the commit: a crash or an outage re-sends at most one batch, which
// the ids make a no-op. At start it finds the chain's last row in the table and resumes right after
// that line in the spool (re-sending everything when the spool does not hold it).
import type { Pool } from 'pg';
import { derivedName, quoteTable } from './migrate.js';
import { columnsOf, INSERT_COLUMNS, rowOf, UNNEST_TYPES } from './row.js';
import { SpoolCursor } from './spool-cursor.js';

export type ShipperState = 'starting' | 'up' | 'down';

export interface ShipperOptions {
  pool: Pool;
  table: string;
  chain: string;
  /** The spool: the writer's active file (rotated files beside it). */
  spool: string;
  batch: number;
  onState?: (state: ShipperState, err?: Error) => void;
  /** Runs before the first shipment (and again after a failure until it succeeds): the schema. */
  prepare?: () => Promise<void>;
  /** While idle, checks PostgreSQL this often, so fail_closed notices an outage without traffic. */
  heartbeatMs?: number;
  /** Retry delays after a failure grow from min to max. */
  retryMinMs?: number;
  retryMaxMs?: number;
}

export class PgShipper {
  state: ShipperState = 'starting';
  /** Rows committed by this process (duplicates the table already had are not counted). */
  shipped = 0;
  lastError: Error | undefined;
  private dirty = true;
  /** A shipment is running (its lines may not be committed yet). */
  private busy = false;
  private closed = false;
  private wakeUp: (() => void) | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private idle: (() => void)[] = [];
  private firstState: (() => void)[] = [];
  private readonly insertSql: string;
  private readonly notifyChannel: string;
  private readonly cursor: SpoolCursor;
  /** The chain the spool's lines go to (set before start: see AuditFleet.ownChain). */
  chain: string;

  constructor(private readonly o: ShipperOptions) {
    this.chain = o.chain;
    this.cursor = new SpoolCursor(o.spool);
    const cols = UNNEST_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ');
    this.notifyChannel = derivedName(o.table, 'new');
    this.insertSql = `WITH ins AS (INSERT INTO ${quoteTable(o.table)} (${INSERT_COLUMNS}) SELECT * FROM unnest(${cols}) ON CONFLICT DO NOTHING RETURNING 1)
      SELECT count(*)::int AS n, pg_notify('${this.notifyChannel}', '') FROM ins`;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Resolves once the first shipment has succeeded or failed (state no longer 'starting'), or after
   * `maxMs`: a fail_closed gateway waits for it before it serves, so its first calls are not
   * refused only because the first shipment had not finished yet.
   */
  settled(maxMs: number): Promise<void> {
    if (this.state !== 'starting') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, maxMs);
      timer.unref();
      this.firstState.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** The writer added lines to the spool. */
  wake(): void {
    this.dirty = true;
    this.wakeUp?.();
  }

  /** Resolves when everything in the spool so far is shipped (or the shipper stops). For tests and shutdown. */
  drained(): Promise<void> {
    if (!this.dirty && !this.busy && this.state === 'up') return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  /** Stops after the batch in flight; what is not shipped stays in the spool for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    this.wakeUp?.();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.loop;
    await this.cursor.close();
    for (const r of this.idle.splice(0)) r();
  }

  /**
   * True when every line of this spool file has been shipped: the file is before the one being
   * shipped (rotated files in order). Retention must not delete a file before that.
   */
  isShipped(path: string): Promise<boolean> {
    return this.cursor.isBehind(path);
  }

  private async run(): Promise<void> {
    let delay = this.o.retryMinMs ?? 250;
    while (!this.closed) {
      this.busy = false;
      if (!this.dirty && this.state === 'up') {
        for (const r of this.idle.splice(0)) r();
        const beat = await this.sleep(this.o.heartbeatMs ?? 5000);
        if (beat && !this.dirty && !this.closed) {
          try {
            await this.o.pool.query('SELECT 1');
          } catch (err) {
            this.fail(err);
          }
        }
        continue;
      }
      this.dirty = false;
      this.busy = true;
      try {
        await this.o.prepare?.();
        if (!this.cursor.placed) await this.findStart();
        await this.cursor.readToEnd(this.o.batch, (lines) => this.insert(lines));
        delay = this.o.retryMinMs ?? 250;
        this.setState('up');
      } catch (err) {
        this.fail(err);
        if (this.closed) break;
        this.busy = false;
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.o.retryMaxMs ?? 2000);
      }
    }
  }

  private fail(err: unknown): void {
    this.dirty = true;
    this.lastError = err instanceof Error ? err : new Error(String(err));
    this.setState('down', this.lastError);
  }

  /** Waits for a wake-up or `ms`; true when the time ran out. */
  private async sleep(ms: number): Promise<boolean> {
    let timedOut = false;
    await new Promise<void>((r) => {
      this.wakeUp = r;
      this.retryTimer = setTimeout(() => {
        timedOut = true;
        r();
      }, ms);
      this.retryTimer.unref();
    });
    clearTimeout(this.retryTimer);
    this.wakeUp = undefined;
    return timedOut;
  }

  private setState(s: ShipperState, err?: Error): void {
    const changed = s !== this.state;
    this.state = s;
    if (changed) for (const r of this.firstState.splice(0)) r();
    if (changed) this.o.onState?.(s, err);
  }

  /** Right after the chain's last row, if the spool holds it; else the start of the oldest file. */
  private async findStart(): Promise<void> {
    const r = await this.o.pool.query<{ hash: string }>(
      `SELECT hash FROM ${quoteTable(this.o.table)} WHERE chain = $1 ORDER BY id DESC LIMIT 1`,
      [this.chain],
    );
    await this.cursor.placeAfter(r.rows[0]?.hash);
  }

  private async insert(lines: string[]): Promise<void> {
    const now = Date.now();
    const rows = lines.map((l) => rowOf(l, now));
    const r = await this.o.pool.query<{ n: number }>(this.insertSql, columnsOf(rows, this.chain));
    this.shipped += r.rows[0]?.n ?? 0;
  }
}

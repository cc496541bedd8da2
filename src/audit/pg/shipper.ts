// Ships the local spool (the JSONL audit files) to PostgreSQL, in chain order, batch by batch.
//
// Durability: the writer acknowledges a record once its line is in the spool (as without PostgreSQL),
// so a PostgreSQL outage or slowness never holds a response. The shipper follows the spool files by
// inode (across rotations), inserts each batch of lines with ON CONFLICT DO NOTHING (record ids), and
// moves its position only after the commit: a crash or an outage re-sends at most one batch, which
// the ids make a no-op. At start it finds the chain's last row in the table and resumes right after
// that line in the spool (re-sending everything when the spool does not hold it).
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Pool } from 'pg';
import { sha256Hex } from '../../sha256.js';
import { readRawLines, rotatedFilesOf } from '../files.js';
import { derivedName, quoteTable } from './migrate.js';
import { columnsOf, INSERT_COLUMNS, rowOf, UNNEST_TYPES } from './row.js';

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

interface Position {
  fh: FileHandle;
  ino: number;
  offset: number;
}

const READ_CHUNK = 1024 * 1024;

export class PgShipper {
  state: ShipperState = 'starting';
  /** Rows committed by this process (duplicates the table already had are not counted). */
  shipped = 0;
  lastError: Error | undefined;
  private pos: Position | undefined;
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

  constructor(private readonly o: ShipperOptions) {
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
    await this.pos?.fh.close().catch(() => {});
    this.pos = undefined;
    for (const r of this.idle.splice(0)) r();
  }

  /**
   * True when every line of this spool file has been shipped: the file is before the one being
   * shipped (rotated files in order). Retention must not delete a file before that.
   */
  async isShipped(path: string): Promise<boolean> {
    if (!this.pos) return false;
    const ino = (await stat(path).catch(() => undefined))?.ino;
    if (ino === undefined) return true;
    if (ino === this.pos.ino) return false;
    const files = await this.files();
    const at = files.findIndex((f) => f.ino === ino);
    const cur = files.findIndex((f) => f.ino === this.pos!.ino);
    return at >= 0 && cur >= 0 && at < cur;
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
        if (!this.pos) await this.findStart();
        await this.shipAvailable();
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

  /**
   * Spool files in chain order (rotated by seq, then the active file), with their inodes. The active
   * file is looked at before and after listing the rotated ones: a rotation in between would leave
   * the file it renamed out of both, and its lines would never be shipped; then it lists again.
   */
  private async files(): Promise<{ path: string; ino: number }[]> {
    for (;;) {
      const before = await stat(this.o.spool).catch(() => undefined);
      const rotated = (await rotatedFilesOf(this.o.spool)).map((f) => f.path);
      const active = await stat(this.o.spool).catch(() => undefined);
      if (before?.ino !== active?.ino) continue;
      const out: { path: string; ino: number }[] = [];
      for (const path of rotated) {
        const st = await stat(path).catch(() => undefined);
        if (st) out.push({ path, ino: st.ino });
      }
      if (active) out.push({ path: this.o.spool, ino: active.ino });
      return out;
    }
  }

  /** Opens `path` at `offset`; false when it is no longer the file listed (rotated since): list again. */
  private async openAt(path: string, offset: number, ino?: number): Promise<boolean> {
    const fh = await open(path, 'r');
    const opened = (await fh.stat()).ino;
    if (ino !== undefined && opened !== ino) {
      await fh.close();
      return false;
    }
    await this.pos?.fh.close().catch(() => {});
    this.pos = { fh, ino: opened, offset };
    return true;
  }

  /** Right after the chain's last row, if the spool holds it; else the start of the oldest file. */
  private async findStart(): Promise<void> {
    const r = await this.o.pool.query<{ hash: string }>(
      `SELECT hash FROM ${quoteTable(this.o.table)} WHERE chain = $1 ORDER BY id DESC LIMIT 1`,
      [this.o.chain],
    );
    const last = r.rows[0]?.hash;
    // Again from the listing when a file was rotated between listing and opening it.
    for (;;) {
      const files = await this.files();
      let at: { path: string; ino: number; end: number } | undefined;
      if (last !== undefined) {
        for (let i = files.length - 1; i >= 0 && !at; i--) {
          const f = files[i]!;
          let end: number | undefined;
          for await (const raw of readRawLines(f.path)) {
            if (raw.complete && sha256Hex(raw.bytes) === last) end = raw.end;
          }
          if (end !== undefined) at = { ...f, end };
        }
      }
      const first = files[0];
      if (
        at ? await this.openAt(at.path, at.end, at.ino) : await this.openAt(first?.path ?? this.o.spool, 0, first?.ino)
      )
        return;
    }
  }

  /** Ships complete lines from the position to the end of the spool, moving across rotations. */
  private async shipAvailable(): Promise<void> {
    const buf = Buffer.alloc(READ_CHUNK);
    for (;;) {
      const pos = this.pos!;
      const start = pos.offset;
      const { bytesRead } = await pos.fh.read(buf, 0, buf.length, start);
      const chunk = buf.subarray(0, bytesRead);
      const lines: string[] = [];
      const ends: number[] = [];
      let at = 0;
      for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, at)) {
        if (nl > at) {
          lines.push(chunk.toString('utf8', at, nl));
          ends.push(nl + 1);
        }
        at = nl + 1;
      }
      if (at === 0 && bytesRead === READ_CHUNK)
        throw new Error(`a spool line longer than ${READ_CHUNK} bytes at offset ${start}`);
      for (let i = 0; i < lines.length; i += this.o.batch) {
        const last = Math.min(i + this.o.batch, lines.length) - 1;
        await this.insert(lines.slice(i, last + 1));
        pos.offset = start + ends[last]!;
      }
      pos.offset = start + at;
      // Nothing more to read here (the end, or a line still being written): on to the next file when
      // the writer has rotated this one away and nothing was added to it since we read.
      if (at === 0 && !(await this.advance(start + bytesRead))) return;
    }
  }

  /** At the end of the current file: true if it was rotated and we moved to the next one. */
  private async advance(readEnd: number): Promise<boolean> {
    const pos = this.pos!;
    const active = await stat(this.o.spool).catch(() => undefined);
    if (active && active.ino === pos.ino) return false;
    // Rotated: anything written before the rename is readable through our handle; read it first.
    if ((await pos.fh.stat()).size > readEnd) return true;
    const files = await this.files();
    const idx = files.findIndex((f) => f.ino === pos.ino);
    const next = idx >= 0 ? files[idx + 1] : files.at(-1);
    if (!next || next.ino === pos.ino) return false;
    // Not the file listed any more (rotated again meanwhile): the caller comes back here and lists again.
    await this.openAt(next.path, 0, next.ino);
    return true;
  }

  private async insert(lines: string[]): Promise<void> {
    const now = Date.now();
    const rows = lines.map((l) => rowOf(l, now));
    const r = await this.o.pool.query<{ n: number }>(this.insertSql, columnsOf(rows, this.o.chain));
    this.shipped += r.rows[0]?.n ?? 0;
  }
}

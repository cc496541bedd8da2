// Where the writer's batches go: a file (with rotation and chain-resume on open) or a stream.
import { createHash } from 'node:crypto';
import { ftruncateSync, writeSync } from 'node:fs';
import { mkdir, open, rename, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { GENESIS_HASH } from './record.js';
import { logLinesBackward } from './files-backward.js';
import { lockAuditLog } from './lock.js';
import { lastCompleteLine, rotatedFileName, rotatedFilesOf, splitLogPath } from './files.js';

export interface SinkOptions {
  rotateBytes?: number;
  rotateDaily?: boolean;
  fsync?: boolean;
}

export interface Sink {
  readonly rotations: number;
  write(buf: Buffer, now: number): Promise<void>;
  /**
   * Writes `buf` at once when nothing needs waiting for (no rotation, no fsync); false when it must
   * go through write(). Throws when the write fails, rolled back as write() does. Done with `buf`
   * on return: the writer reuses its memory for the next batch (chainInto).
   */
  writeNow?(buf: Buffer, now: number): boolean;
  close(): Promise<void>;
  /** The chain's lines, newest first (for signed checkpoints: the writer resumes from the last one). */
  lastLines?(): AsyncIterable<Buffer>;
  /** Would writing `incoming` bytes now rotate first? (The writer then seals the file: see seal.) */
  rotationDue?(incoming: number, now: number): boolean;
  /** Appends `buf` (a checkpoint line) to the current file, then rotates: each rotated file ends signed. */
  seal?(buf: Buffer, now: number): Promise<void>;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
// The UTC day of a time, kept for the day it was made in: every batch asks (twice), and formatting
// a Date each time showed in the write path's profile.
let dayFrom = 0;
let dayTo = -1;
let dayName = '';
function utcDay(ms: number): string {
  if (ms >= dayFrom && ms < dayTo) return dayName;
  dayFrom = ms - (((ms % 86_400_000) + 86_400_000) % 86_400_000);
  dayTo = dayFrom + 86_400_000;
  dayName = new Date(ms).toISOString().slice(0, 10);
  return dayName;
}

/** fsync a directory so a created or renamed entry is durable (best effort: not every OS allows it). */
async function syncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r').catch(() => undefined);
  if (!dh) return;
  await dh.sync().catch(() => {});
  await dh.close();
}

export class StreamSink implements Sink {
  readonly rotations = 0;
  constructor(private readonly stream: NodeJS.WritableStream) {}
  write(buf: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.stream.write(buf, (err) => (err ? reject(err) : resolve()));
    });
  }
  async close(): Promise<void> {} // the stream belongs to the caller
}

export class FileSink implements Sink {
  private fh: FileHandle | undefined;
  private size = 0;
  private day: string;
  rotations = 0;

  private constructor(
    private readonly path: string,
    private readonly opts: SinkOptions,
    private readonly onError: (err: Error) => void,
    fh: FileHandle,
    size: number,
    day: string,
    private readonly unlock: () => void,
  ) {
    this.fh = fh;
    this.size = size;
    this.day = day;
  }

  static async open(
    path: string,
    opts: SinkOptions,
    now: () => number,
    onError: (err: Error) => void,
  ): Promise<{ sink: FileSink; head: string }> {
    await mkdir(splitLogPath(path).dir, { recursive: true });
    const unlock = lockAuditLog(path, onError);
    const fh = await open(path, 'a+', 0o640).catch((err: unknown) => {
      unlock();
      throw err;
    });
    try {
      const st = await fh.stat();
      let { line, completeEnd } = await lastCompleteLine(fh, st.size);
      if (completeEnd < st.size) {
        await fh.truncate(completeEnd);
        onError(
          new Error(`${path}: removed ${st.size - completeEnd} bytes of an incomplete last line (a write cut short)`),
        );
      }
      if (line === undefined) {
        const rotated = (await rotatedFilesOf(path)).at(-1);
        if (rotated) {
          const rh = await open(rotated.path, 'r');
          try {
            line = (await lastCompleteLine(rh, (await rh.stat()).size)).line;
          } finally {
            await rh.close();
          }
        }
      }
      if (opts.fsync && st.size === 0) await syncDir(splitLogPath(path).dir);
      const day = utcDay(completeEnd > 0 ? st.mtimeMs : now());
      return {
        sink: new FileSink(path, opts, onError, fh, completeEnd, day, unlock),
        head: line ? sha256(line) : GENESIS_HASH,
      };
    } catch (err) {
      await fh.close();
      unlock();
      throw err;
    }
  }

  lastLines(): AsyncIterable<Buffer> {
    return logLinesBackward(this.path);
  }

  rotationDue(incoming: number, now: number): boolean {
    const max = this.opts.rotateBytes;
    return (
      this.size > 0 &&
      ((max !== undefined && max > 0 && this.size + incoming > max) ||
        (this.opts.rotateDaily === true && utcDay(now) !== this.day))
    );
  }

  async seal(buf: Buffer, now: number): Promise<void> {
    this.sealing = true;
    try {
      await this.write(buf, now);
    } finally {
      this.sealing = false;
    }
    // The line is written: a failed rotation must not make the writer think otherwise.
    await this.maybeRotate(0, now, true).catch((err: unknown) =>
      this.onError(new Error(`audit rotation failed: ${(err as Error).message}`)),
    );
  }

  private sealing = false;

  writeNow(buf: Buffer, now: number): boolean {
    const fh = this.fh;
    if (!fh || this.opts.fsync || this.sealing || this.size === 0 || this.rotationDue(buf.length, now)) return false;
    const before = this.size;
    try {
      for (let off = 0; off < buf.length; ) off += writeSync(fh.fd, buf, off, buf.length - off);
    } catch (err) {
      try {
        ftruncateSync(fh.fd, before); // drop a partial batch: its records were never acknowledged
      } catch {
        // the write's own error is the one to report
      }
      throw err;
    }
    this.size += buf.length;
    return true;
  }

  async write(buf: Buffer, now: number): Promise<void> {
    if (!this.sealing) await this.maybeRotate(buf.length, now);
    if (!this.fh) {
      this.fh = await open(this.path, 'a+', 0o640);
      if (this.opts.fsync) await syncDir(splitLogPath(this.path).dir); // the new name must survive too
    }
    const fh = this.fh;
    const before = this.size;
    try {
      if (this.opts.fsync) {
        for (let off = 0; off < buf.length; ) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
        await fh.datasync();
      } else {
        // Without fsync the write only reaches the page cache: microseconds for a batch, cheaper
        // than a round trip through libuv's thread pool (measured: ~0.4 ms added per call).
        for (let off = 0; off < buf.length; ) off += writeSync(fh.fd, buf, off, buf.length - off);
      }
      this.size += buf.length;
    } catch (err) {
      await fh.truncate(before).catch(() => {}); // drop a partial batch: its records were never acknowledged
      throw err;
    }
  }

  private async maybeRotate(incoming: number, now: number, force = false): Promise<void> {
    const today = utcDay(now);
    const due = (force && this.size > 0) || this.rotationDue(incoming, now);
    if (!due) {
      if (this.size === 0) this.day = today;
      return;
    }
    const { dir, stem, ext } = splitLogPath(this.path);
    const seq = ((await rotatedFilesOf(this.path)).at(-1)?.seq ?? 0) + 1;
    if (this.fh) {
      if (this.opts.fsync) await this.fh.datasync();
      await this.fh.close();
      this.fh = undefined;
    }
    try {
      await rename(this.path, join(dir, rotatedFileName(stem, ext, seq, new Date(now))));
      this.size = 0;
      this.rotations++;
    } catch (err) {
      // Keep appending to the current file: a missed rotation loses nothing.
      this.onError(new Error(`audit rotation failed: ${(err as Error).message}`));
      this.size = (await stat(this.path).catch(() => ({ size: 0 }))).size;
    }
    this.day = today;
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    if (fh) await fh.close();
    try {
      this.unlock();
    } catch (err) {
      this.onError(new Error(`audit log lock not released: ${(err as Error).message}`));
    }
  }
}

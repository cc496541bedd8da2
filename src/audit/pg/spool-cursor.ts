// Where the PostgreSQL shipper is in its spool: a file followed by inode across the writer's
// rotations, and the offset after the last line shipped from it. It reads complete lines from there,
// batch by batch, and moves on to the next file once the writer has rotated the current one away.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { sha256Hex } from '../../sha256.js';
import { readRawLines, rotatedFilesOf } from '../files.js';

interface Position {
  fh: FileHandle;
  ino: number;
  offset: number;
}

const READ_CHUNK = 1024 * 1024;
// A line is read whole however long (an agent chooses how long its record is: argument keys are never
// cut, and up to 5000 values of audit.max_value_bytes each are kept); past this it cannot be a row
// (PostgreSQL text holds at most 1 GB) and shipping stops there with this reason.
const MAX_LINE = 512 * 1024 * 1024;

export class SpoolCursor {
  private pos: Position | undefined;

  /** `spool`: the writer's active file (rotated files beside it). */
  constructor(private readonly spool: string) {}

  /** Whether a position has been found (placeAfter) since the cursor was made. */
  get placed(): boolean {
    return this.pos !== undefined;
  }

  /** True when every line of this spool file is before the position (see PgShipper.isShipped). */
  async isBehind(path: string): Promise<boolean> {
    if (!this.pos) return false;
    const ino = (await stat(path).catch(() => undefined))?.ino;
    if (ino === undefined) return true;
    if (ino === this.pos.ino) return false;
    const files = await this.files();
    const at = files.findIndex((f) => f.ino === ino);
    const cur = files.findIndex((f) => f.ino === this.pos!.ino);
    return at >= 0 && cur >= 0 && at < cur;
  }

  /** Right after the line whose hash is `last`, if the spool holds it; else the start of the oldest file. */
  async placeAfter(last: string | undefined): Promise<void> {
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
      if (at ? await this.openAt(at.path, at.end, at.ino) : await this.openAt(first?.path ?? this.spool, 0, first?.ino))
        return;
    }
  }

  /**
   * Hands complete lines from the position to the end of the spool to `send`, `batch` at a time,
   * moving across rotations; the position moves past a batch only once `send` has resolved.
   */
  async readToEnd(batch: number, send: (lines: string[]) => Promise<void>): Promise<void> {
    let buf = Buffer.alloc(READ_CHUNK);
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
      if (at === 0 && bytesRead === buf.length) {
        // No end of line in a full buffer: a line longer than it. Read it again into one twice the size
        // (rare; the chunk returns to its usual size after it) rather than stop every record after it.
        if (buf.length >= MAX_LINE) throw new Error(`a spool line longer than ${MAX_LINE} bytes at offset ${start}`);
        buf = Buffer.alloc(Math.min(buf.length * 2, MAX_LINE));
        continue;
      }
      if (buf.length > READ_CHUNK && at > 0) buf = Buffer.alloc(READ_CHUNK);
      for (let i = 0; i < lines.length; i += batch) {
        const last = Math.min(i + batch, lines.length) - 1;
        await send(lines.slice(i, last + 1));
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
    const active = await stat(this.spool).catch(() => undefined);
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

  /**
   * Spool files in chain order (rotated by seq, then the active file), with their inodes. The active
   * file is looked at before and after listing the rotated ones: a rotation in between would leave
   * the file it renamed out of both, and its lines would never be shipped; then it lists again.
   */
  private async files(): Promise<{ path: string; ino: number }[]> {
    for (;;) {
      const before = await stat(this.spool).catch(() => undefined);
      const rotated = (await rotatedFilesOf(this.spool)).map((f) => f.path);
      const active = await stat(this.spool).catch(() => undefined);
      if (before?.ino !== active?.ino) continue;
      const out: { path: string; ino: number }[] = [];
      for (const path of rotated) {
        const st = await stat(path).catch(() => undefined);
        if (st) out.push({ path, ino: st.ino });
      }
      if (active) out.push({ path: this.spool, ino: active.ino });
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

  async close(): Promise<void> {
    await this.pos?.fh.close().catch(() => {});
    this.pos = undefined;
  }
}

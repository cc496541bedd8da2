// Reading the audit log: rotation-ordered reads, follow (tail -f across rotation); what a query
// selects is query-filter.ts.
import { watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { AuditLine } from './record.js';
import { parseAuditLine } from './parse-line.js';
import { listLogSets, parseRotatedName, readRawLines, rotatedFilesOf } from './files.js';
import { matcher, type AuditQuery } from './query-filter.js';

export { globMatcher } from './glob-matcher.js';
export { fieldString, matcher, parseTimeSpec, targetOf, type AuditQuery } from './query-filter.js';

export interface ReadOptions {
  /** A line that is not a JSON object is skipped and reported here. */
  onBadLine?: (file: string, line: number) => void;
}

export interface FollowOptions extends ReadOptions {
  signal?: AbortSignal;
}

const parseLine = (bytes: Buffer): AuditLine | undefined => parseAuditLine(bytes.toString('utf8'));

/** Matching records of a file or directory, oldest first (rotation order). */
export async function* readAudit(path: string, q: AuditQuery = {}, opts: ReadOptions = {}): AsyncGenerator<AuditLine> {
  const match = matcher(q);
  const tail = new Tail<AuditLine>(q.limit);
  for (const set of await listLogSets(path)) {
    for (const file of set.files) {
      // A file last written before `since` holds only older records (a record is written after its timestamp).
      if (q.since !== undefined && (await stat(file)).mtimeMs < q.since) continue;
      for await (const raw of readRawLines(file)) {
        if (!raw.complete || raw.bytes.length === 0) continue;
        const r = parseLine(raw.bytes);
        if (!r) opts.onBadLine?.(file, raw.lineNo);
        else if (match(r)) {
          if (q.limit === undefined) yield r;
          else tail.push(r);
        }
      }
    }
  }
  yield* tail.items();
}

/** Keeps the last n items (all when n is undefined). */
class Tail<T> {
  private buf: T[] = [];
  private start = 0;
  constructor(private readonly n: number | undefined) {}
  push(x: T): void {
    if (this.n === undefined) this.buf.push(x);
    else if (this.n <= 0) return;
    else if (this.buf.length < this.n) this.buf.push(x);
    else {
      this.buf[this.start] = x;
      this.start = (this.start + 1) % this.n;
    }
  }
  items(): T[] {
    return [...this.buf.slice(this.start), ...this.buf.slice(0, this.start)];
  }
}

const MAX_PARTIAL = 16 * 1024 * 1024; // a partial line longer than this is dropped (bounded memory)

/**
 * Matching records already in the log (the last `limit` of them), then each new one as it is written,
 * across rotations, until `signal` aborts or the consumer stops. Woken by fs.watch on the directory
 * (no polling unless fs.watch is unavailable). A directory must hold one log.
 */
export async function* followAudit(
  path: string,
  q: AuditQuery = {},
  opts: FollowOptions = {},
): AsyncGenerator<AuditLine> {
  const active = await activePathOf(path);
  const match = matcher(q);
  let wakeUp: (() => void) | undefined;
  let dirty = true;
  const wake = () => {
    dirty = true;
    wakeUp?.();
  };
  let watcher: FSWatcher | undefined;
  let poll: NodeJS.Timeout | undefined;
  try {
    watcher = watch(dirname(active), { persistent: true }, wake);
    watcher.on('error', () => (poll ??= setInterval(wake, 1000)));
  } catch {
    poll = setInterval(wake, 1000);
  }
  opts.signal?.addEventListener('abort', wake);
  let fh: FileHandle | undefined;
  try {
    let ino = -1;
    let offset = 0;
    let partial: Buffer | undefined;
    const openActive = async () => {
      fh = await open(active, 'r').catch(() => undefined);
      ino = fh ? (await fh.stat()).ino : -1;
      offset = 0;
      partial = undefined;
    };
    // Reads what the open file gained since last time; returns complete lines.
    const readNew = async (): Promise<AuditLine[]> => {
      const out: AuditLine[] = [];
      if (!fh) return out;
      const buf = Buffer.alloc(256 * 1024);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        if (bytesRead === 0) return out;
        offset += bytesRead;
        let chunk = buf.subarray(0, bytesRead);
        if (partial) chunk = Buffer.concat([partial, chunk]);
        let pos = 0;
        for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, pos)) {
          const r = nl > pos ? parseLine(chunk.subarray(pos, nl)) : undefined;
          if (r) {
            if (match(r)) out.push(r);
          } else if (nl > pos) opts.onBadLine?.(active, -1);
          pos = nl + 1;
        }
        partial = pos < chunk.length ? Buffer.from(chunk.subarray(pos)) : undefined;
        if (partial && partial.length > MAX_PARTIAL) partial = undefined;
      }
    };

    await openActive();
    const history = new Tail<AuditLine>(q.limit);
    for (const rotated of await rotatedFilesOf(active)) {
      if (fh && (await stat(rotated.path)).ino === ino) continue; // ours, rotated meanwhile: read below
      for await (const raw of readRawLines(rotated.path)) {
        const r = raw.complete ? parseLine(raw.bytes) : undefined;
        if (r && match(r)) history.push(r);
      }
    }
    for (const r of await readNew()) history.push(r);
    yield* history.items();

    while (!opts.signal?.aborted) {
      if (!dirty) await new Promise<void>((resolve) => (wakeUp = resolve));
      wakeUp = undefined;
      dirty = false;
      if (opts.signal?.aborted) break;
      yield* await readNew();
      const now = await stat(active).catch(() => undefined);
      if (!fh || !now || now.ino !== ino) {
        // Rotated (or recreated): finish the old file through our handle, then move to the new one.
        if (fh) {
          yield* await readNew();
          await fh.close();
          fh = undefined;
        }
        if (now) {
          await openActive();
          dirty = true;
        }
      }
    }
  } finally {
    watcher?.close();
    if (poll) clearInterval(poll);
    opts.signal?.removeEventListener('abort', wake);
    await (fh as FileHandle | undefined)?.close();
  }
}

/** The active file of a path: the file itself, or the one log in a directory. */
async function activePathOf(path: string): Promise<string> {
  const st = await stat(path);
  if (!st.isDirectory()) return path;
  const sets = await listLogSets(path);
  if (sets.length !== 1)
    throw new Error(
      `${path}: ${sets.length === 0 ? 'no audit log' : 'several audit logs'} here; name the file to follow`,
    );
  const set = sets[0]!;
  const last = set.files.at(-1)!;
  // A set whose active file is missing right now (between rotation steps): follow its active name.
  const r = parseRotatedName(basename(last));
  return r ? join(path, r.stem + r.ext) : last;
}

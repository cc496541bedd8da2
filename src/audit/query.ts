// Reading the audit log: filters, rotation-ordered reads, follow (tail -f across rotation).
import { watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { AuditLine } from './record.js';
import { parseAuditLine } from './parse-line.js';
import { listLogSets, parseRotatedName, readRawLines, rotatedFilesOf } from './files.js';

export interface AuditQuery {
  agent?: string;
  /** Glob (`*`, `?`) over the tool, prompt or resource name, namespaced or upstream-native. */
  tool?: string;
  server?: string;
  /** The gateway instance that wrote the record (`service.instance.id`). */
  instance?: string;
  /** One decision or several. */
  decision?: string | readonly string[];
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
  /** Only the LAST n matching records (the most recent), like `tail -n`. */
  limit?: number;
}

export interface ReadOptions {
  /** A line that is not a JSON object is skipped and reported here. */
  onBadLine?: (file: string, line: number) => void;
}

export interface FollowOptions extends ReadOptions {
  signal?: AbortSignal;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `30m`, `1h`, `2d` (that long before `now`) or an ISO date → epoch ms. */
export function parseTimeSpec(spec: string, now: number): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(spec.trim());
  if (m) return now - Number(m[1]) * UNITS[m[2]!]!;
  const t = /^\d{4}-\d{2}-\d{2}/.test(spec) ? Date.parse(spec) : NaN;
  if (!Number.isFinite(t)) throw new Error(`invalid time "${spec}": use 30m, 1h, 2d or an ISO 8601 date`);
  return t;
}

/** Whether `seg` (with `?` for any one character) matches `s` at `i`; the caller keeps it inside `s`. */
function segmentAt(s: string, i: number, seg: string): boolean {
  for (let k = 0; k < seg.length; k++) if (seg[k] !== '?' && seg[k] !== s[i + k]) return false;
  return true;
}

/** The leftmost place from `from` where `seg` matches and ends by `end`, or -1. */
function findSegment(s: string, seg: string, from: number, end: number): number {
  if (!seg.includes('?')) {
    const k = s.indexOf(seg, from);
    return k >= 0 && k + seg.length <= end ? k : -1;
  }
  for (let k = from; k + seg.length <= end; k++) if (segmentAt(s, k, seg)) return k;
  return -1;
}

/**
 * A glob (`*` any run, `?` any one character) as a matcher. Not a RegExp: the names it is tested
 * against are written by agents (an unknown tool's name, quoted up to 2048 characters: mcp/quoted-name.ts), and
 * a backtracking `^.*github.*delete.*$` over 240 000 characters of `github…` took 19 s on the event
 * loop, the live tail's filter included. Here the parts between stars are found leftmost in turn
 * (enough for a glob), each at most once over the name: time grows with the name times the pattern.
 */
export function globMatcher(glob: string): { test(s: string): boolean } {
  const parts = glob.split('*');
  const first = parts[0] as string;
  if (parts.length === 1) return { test: (s) => s.length === glob.length && segmentAt(s, 0, glob) };
  const last = parts.at(-1) as string;
  const middle = parts.slice(1, -1).filter((p) => p !== '');
  return {
    test(s) {
      if (s.length < first.length + last.length) return false;
      const end = s.length - last.length;
      if (!segmentAt(s, 0, first) || !segmentAt(s, end, last)) return false;
      let i = first.length;
      for (const seg of middle) {
        const k = findSegment(s, seg, i, end);
        if (k < 0) return false;
        i = k + seg.length;
      }
      return true;
    },
  };
}

export const fieldString = (r: AuditLine, k: keyof AuditLine): string | undefined => {
  const v = (r as unknown as Record<string, unknown>)[k];
  return typeof v === 'string' ? v : undefined;
};

/** The name a record is about: tool, prompt, resource URI, else the method or LLM model. */
export function targetOf(r: AuditLine): string {
  return (
    fieldString(r, 'gen_ai.tool.name') ??
    fieldString(r, 'gen_ai.prompt.name') ??
    fieldString(r, 'mcp.resource.uri') ??
    fieldString(r, 'gen_ai.request.model') ??
    fieldString(r, 'mcp.method.name') ??
    '-'
  );
}

/** Decisions by name or glob (`approval_*`). */
function decisionMatcher(d: string | readonly string[]): (decision: string) => boolean {
  const globs = (typeof d === 'string' ? [d] : d).map((x) => globMatcher(x));
  return (decision) => globs.some((g) => g.test(decision));
}

export function matcher(q: AuditQuery): (r: AuditLine) => boolean {
  const tool = q.tool === undefined ? undefined : globMatcher(q.tool);
  const decisions = q.decision === undefined ? undefined : decisionMatcher(q.decision);
  return (r) => {
    // Signed checkpoints (checkpoint.ts) are lines of the chain, not records of calls.
    if ((r as { 'tollgate.record.kind'?: unknown })['tollgate.record.kind'] === 'checkpoint') return false;
    if (q.agent !== undefined && fieldString(r, 'gen_ai.agent.id') !== q.agent) return false;
    if (q.server !== undefined && fieldString(r, 'tollgate.upstream.name') !== q.server) return false;
    if (q.instance !== undefined && fieldString(r, 'service.instance.id') !== q.instance) return false;
    if (decisions && !decisions(fieldString(r, 'tollgate.decision') ?? '')) return false;
    if (tool) {
      const names = [
        fieldString(r, 'gen_ai.tool.name'),
        fieldString(r, 'gen_ai.prompt.name'),
        fieldString(r, 'mcp.resource.uri'),
        fieldString(r, 'tollgate.target.native'),
      ];
      if (!names.some((n) => n !== undefined && tool.test(n))) return false;
    }
    if (q.since !== undefined || q.until !== undefined) {
      const t = Date.parse(fieldString(r, 'timestamp') ?? '');
      if (!Number.isFinite(t)) return false;
      if (q.since !== undefined && t < q.since) return false;
      if (q.until !== undefined && t >= q.until) return false;
    }
    return true;
  };
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

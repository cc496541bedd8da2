// Log files on disk: rotation naming, ordering, and reading lines as exact bytes (hashes are over bytes).
//
// Naming: the active file is the configured path, e.g. `tollgate-audit.jsonl` (stem `tollgate-audit`,
// ext `.jsonl`). Rotation renames it to `<stem>.<seq>.<YYYYMMDDTHHMMSSZ><ext>`, e.g.
// `tollgate-audit.000042.20251123T145601Z.jsonl`: seq (≥ 6 digits, one more than the highest present)
// gives the order — clock-independent — and the UTC rotation time is for people. Order of a set:
// rotated files by seq, then the active file.
import { createReadStream } from 'node:fs';
import { readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';

export interface LogSet {
  stem: string;
  /** Full paths in chain order (rotated by seq, then the active file when present). */
  files: string[];
}

const ROTATED = /^(.+)\.(\d{6,})\.(\d{8}T\d{6}Z)(\.[^.]*)?$/;

export function splitLogPath(path: string): { dir: string; stem: string; ext: string } {
  const ext = extname(path);
  return { dir: dirname(path), stem: basename(path, ext), ext };
}

export function rotatedFileName(stem: string, ext: string, seq: number, at: Date): string {
  const ts = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
  return `${stem}.${String(seq).padStart(6, '0')}.${ts}${ext}`;
}

export function parseRotatedName(name: string): { stem: string; seq: number; ext: string } | undefined {
  const m = ROTATED.exec(name);
  if (!m) return undefined;
  return { stem: m[1]!, seq: Number(m[2]), ext: m[4] ?? '' };
}

/** Rotated files of the log at `activePath`, oldest first. */
export async function rotatedFilesOf(activePath: string): Promise<{ path: string; seq: number }[]> {
  const { dir, stem, ext } = splitLogPath(activePath);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: { path: string; seq: number }[] = [];
  for (const name of names) {
    const r = parseRotatedName(name);
    if (r && r.stem === stem && r.ext === ext) out.push({ path: join(dir, name), seq: r.seq });
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/**
 * The log sets under a path. A file is a set of one. A directory holds one set per stem: every
 * rotated file, plus each `*.jsonl` (or the active name of a rotated set) as that set's active file.
 */
export async function listLogSets(path: string): Promise<LogSet[]> {
  const st = await stat(path);
  if (!st.isDirectory()) return [{ stem: splitLogPath(path).stem, files: [path] }];
  const names = await readdir(path);
  const sets = new Map<string, { rotated: { name: string; seq: number }[]; active?: string }>();
  const get = (key: string) => {
    let s = sets.get(key);
    if (!s) sets.set(key, (s = { rotated: [] }));
    return s;
  };
  for (const name of names) {
    const r = parseRotatedName(name);
    if (r) get(r.stem + r.ext).rotated.push({ name, seq: r.seq });
  }
  for (const name of names) {
    if (parseRotatedName(name)) continue;
    if (sets.has(name) || name.endsWith('.jsonl')) get(name).active = name;
  }
  const out: LogSet[] = [];
  for (const key of [...sets.keys()].sort()) {
    const s = sets.get(key)!;
    const files = s.rotated.sort((a, b) => a.seq - b.seq).map((f) => join(path, f.name));
    if (s.active !== undefined) files.push(join(path, s.active));
    const stem = s.active !== undefined ? splitLogPath(s.active).stem : parseRotatedName(s.rotated[0]!.name)!.stem;
    out.push({ stem, files });
  }
  return out;
}

export interface RawLine {
  /** The line without its `\n`. */
  bytes: Buffer;
  /** 1-based. */
  lineNo: number;
  /** False for a last line with no `\n` (a write cut short). */
  complete: boolean;
  /** Byte offset just past this line (and its `\n`). */
  end: number;
}

/** Lines of a file from `start` (a line start) up to `end` (exclusive), as bytes. */
export async function* readRawLines(
  file: string,
  opts: { start?: number; end?: number; firstLineNo?: number } = {},
): AsyncGenerator<RawLine> {
  const start = opts.start ?? 0;
  if (opts.end !== undefined && opts.end <= start) return;
  const stream = createReadStream(file, {
    start,
    end: opts.end === undefined ? undefined : opts.end - 1,
    highWaterMark: 256 * 1024,
  });
  let lineNo = (opts.firstLineNo ?? 1) - 1;
  // The current line's bytes from earlier chunks, joined once at its end: a line of many chunks costs
  // its size, not its size squared (whoever writes the log may write one of hundreds of MiB).
  let parts: Buffer[] = [];
  let offset = start;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let pos = 0;
    for (let nl = chunk.indexOf(10, pos); nl !== -1; nl = chunk.indexOf(10, pos)) {
      const piece = chunk.subarray(pos, nl);
      const bytes = parts.length > 0 ? Buffer.concat([...parts, piece]) : piece;
      parts = [];
      offset += bytes.length + 1;
      yield { bytes, lineNo: ++lineNo, complete: true, end: offset };
      pos = nl + 1;
    }
    if (pos < chunk.length) parts.push(chunk.subarray(pos));
  }
  if (parts.length > 0) {
    const rest = Buffer.concat(parts);
    yield { bytes: rest, lineNo: ++lineNo, complete: false, end: offset + rest.length };
  }
}

/**
 * The last complete line of an open file of `size` bytes, and where complete lines end (a torn tail
 * after the last `\n` is not part of it). Reads backwards in chunks, so long lines cost only themselves.
 */
export async function lastCompleteLine(
  fh: FileHandle,
  size: number,
): Promise<{ line: Buffer | undefined; completeEnd: number }> {
  const chunk = 64 * 1024;
  let parts: Buffer[] = [];
  let completeEnd = -1; // offset just past the last '\n'
  let pos = size;
  while (pos > 0) {
    const from = Math.max(0, pos - chunk);
    const buf = Buffer.alloc(pos - from);
    await fh.read(buf, 0, buf.length, from);
    pos = from;
    let i = buf.length;
    if (completeEnd < 0) {
      i = buf.lastIndexOf(10);
      if (i < 0) continue;
      completeEnd = from + i + 1;
      parts = [];
    }
    const prevNl = i > 0 ? buf.lastIndexOf(10, i - 1) : -1;
    if (prevNl >= 0) {
      parts.unshift(buf.subarray(prevNl + 1, i));
      return { line: Buffer.concat(parts), completeEnd };
    }
    parts.unshift(buf.subarray(0, i));
  }
  if (completeEnd < 0) return { line: undefined, completeEnd: 0 };
  return { line: Buffer.concat(parts), completeEnd };
}

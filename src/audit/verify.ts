// Verifies audit log files: each log set (a file and its rotated predecessors, in rotation order) is
// one chain, checked by verifyChain (verify-chain.ts: links, signed checkpoints, the unsigned tail).
//
// The reported position is the first line whose link is broken. An edited line k shows up at line k+1
// (its `prev` no longer matches); a deleted, inserted or moved line at its own position. Removing
// records from the very end is visible only with signed checkpoints (an unsigned or stale end) and,
// for an end cut exactly at a checkpoint, against an anchor (checkAnchors).
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { lastCompleteLine, listLogSets, parseRotatedName, readRawLines, rotatedFilesOf } from './files.js';
import { verifyChain, type ChainLine, type ChainReport } from './verify-chain.js';

export interface VerifyResult {
  ok: boolean;
  files: number;
  /** Audit records (checkpoint lines not included). */
  records: number;
  checkpoints: number;
  firstBroken?: { file: string; line: number; reason: string };
  /** A last line without `\n` at the end of a log: a write cut short by a crash, never acknowledged. */
  incompleteTail?: { file: string; line: number; bytes: number };
  /** One report per log set (chain), in the order read. */
  sets: (ChainReport & { stem: string })[];
}

export interface VerifyOptions {
  /** Require the first record to carry GENESIS_HASH (default true). False when older files were
   *  deliberately removed (retention): the chain is then checked from the first record present. */
  requireGenesis?: boolean;
  /** Check checkpoint signatures with these keys (by key id). */
  publicKeys?: ReadonlyMap<string, KeyObject>;
  now?: number;
}

export async function verifyAudit(path: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const isFile = !(await stat(path)).isDirectory();
  const result: VerifyResult = { ok: true, files: 0, records: 0, checkpoints: 0, sets: [] };
  for (const set of await listLogSets(path)) {
    // A single file may be a rotated part: its first record then chains to its predecessor's last line.
    const pred = isFile ? await predecessorOf(path) : undefined;
    const report = await verifyChain(linesOf(set.files, result), {
      ...(pred ? { start: { hash: pred.hash, from: `the last record of ${basename(pred.file)}` } } : {}),
      ...(opts.requireGenesis !== undefined ? { requireGenesis: opts.requireGenesis } : {}),
      ...(opts.publicKeys ? { publicKeys: opts.publicKeys } : {}),
      ...(opts.now !== undefined ? { now: opts.now } : {}),
      afterRotation: `the file after it (${activeName(set)}) is missing or was emptied`,
    });
    // A rotated file read alone ends with its rotation checkpoint, however old: not a stale end.
    if (isFile && parseRotatedName(basename(path))) delete report.stale;
    result.sets.push({ ...report, stem: set.stem });
    result.records += report.records;
    result.checkpoints += report.checkpoints;
    if (report.incompleteTail) result.incompleteTail = { file: '', ...report.incompleteTail };
    if (!report.ok) {
      result.ok = false;
      result.firstBroken = { file: '', ...report.firstBroken! };
      return result;
    }
  }
  return result;
}

/** The name of a set's active file (present or not): what follows its last rotated file. */
function activeName(set: { files: readonly string[] }): string {
  const last = basename(set.files.at(-1) ?? '');
  const r = parseRotatedName(last);
  return r ? r.stem + r.ext : last;
}

/** The lines of a log set's files in order; a torn line is only allowed at the very end. */
async function* linesOf(files: readonly string[], counts: { files: number }): AsyncGenerator<ChainLine> {
  for (let f = 0; f < files.length; f++) {
    const file = files[f]!;
    counts.files++;
    for await (const raw of readRawLines(file)) {
      const line: ChainLine = { bytes: raw.bytes, file, line: raw.lineNo, complete: raw.complete };
      if (!raw.complete && f < files.length - 1) line.broken = 'incomplete last line in a file that is not the newest';
      yield line;
      if (!raw.complete) return;
    }
  }
}

/** For a file with rotated files before it (a rotated part, or the active file): the last line's hash. */
async function predecessorOf(file: string): Promise<{ file: string; hash: string } | undefined> {
  const name = basename(file);
  const r = parseRotatedName(name);
  // The active path of the set this file belongs to (the file itself when it is active).
  const active = r ? join(dirname(file), r.stem + r.ext) : file;
  const rotated = await rotatedFilesOf(active);
  const idx = r ? rotated.findIndex((x) => basename(x.path) === name) : rotated.length;
  for (let i = idx - 1; i >= 0; i--) {
    const fh = await open(rotated[i]!.path, 'r');
    try {
      const { line } = await lastCompleteLine(fh, (await fh.stat()).size);
      if (line) return { file: rotated[i]!.path, hash: createHash('sha256').update(line).digest('hex') };
    } finally {
      await fh.close();
    }
  }
  return undefined;
}

// Verifies the hash chain of an audit log: every line is a JSON object whose `prev` is the SHA-256 of
// the previous line's bytes (across files in rotation order); the first line of a log has GENESIS_HASH.
//
// The reported position is the first line whose link is broken. An edited line k shows up at line k+1
// (its `prev` no longer matches); a deleted, inserted or moved line at its own position. Removing
// records from the very end of a log cannot be seen from the log alone: compare with a chain head kept
// elsewhere (AuditWriter.chainHead) for that.
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { GENESIS_HASH } from './record.js';
import { lastCompleteLine, listLogSets, parseRotatedName, readRawLines, rotatedFilesOf } from './files.js';

export interface VerifyResult {
  ok: boolean;
  files: number;
  records: number;
  firstBroken?: { file: string; line: number; reason: string };
  /** A last line without `\n` at the end of a log: a write cut short by a crash, never acknowledged. */
  incompleteTail?: { file: string; line: number; bytes: number };
}

export interface VerifyOptions {
  /** Require the first record to carry GENESIS_HASH (default true). False when older files were
   *  deliberately removed (retention): the chain is then checked from the first record present. */
  requireGenesis?: boolean;
}

const HEX64 = /^[0-9a-f]{64}$/;

export async function verifyAudit(path: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const requireGenesis = opts.requireGenesis ?? true;
  const isFile = !(await stat(path)).isDirectory();
  const sets = await listLogSets(path);
  const result: VerifyResult = { ok: true, files: 0, records: 0 };
  for (const set of sets) {
    // A single file may be a rotated part: its first record then chains to its predecessor's last line.
    let expected: string | undefined = requireGenesis ? GENESIS_HASH : undefined;
    let expectedFrom = 'genesis';
    if (isFile) {
      const pred = await predecessorOf(path);
      if (pred) {
        expected = pred.hash;
        expectedFrom = `the last record of ${basename(pred.file)}`;
      }
    }
    for (let f = 0; f < set.files.length; f++) {
      const file = set.files[f]!;
      const lastFile = f === set.files.length - 1;
      result.files++;
      for await (const raw of readRawLines(file)) {
        const at = (reason: string) => ({ file, line: raw.lineNo, reason });
        if (!raw.complete) {
          if (lastFile) {
            result.incompleteTail = { file, line: raw.lineNo, bytes: raw.bytes.length };
            break;
          }
          return fail(result, at('incomplete last line in a file that is not the newest'));
        }
        if (raw.bytes.length === 0) return fail(result, at('empty line'));
        let rec: unknown;
        try {
          rec = JSON.parse(raw.bytes.toString('utf8'));
        } catch {
          return fail(result, at('not valid JSON'));
        }
        if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return fail(result, at('not a JSON object'));
        const prev = (rec as { prev?: unknown }).prev;
        if (typeof prev !== 'string' || !HEX64.test(prev)) return fail(result, at('missing or malformed "prev"'));
        if (expected !== undefined && prev !== expected) {
          let reason: string;
          if (expectedFrom === 'genesis')
            reason =
              'the first record does not start the chain (prev is not the genesis hash): earlier records or files are missing';
          else if (raw.lineNo === 1)
            reason = `prev does not match ${expectedFrom}: a file is missing or out of order, or that record was edited`;
          else
            reason = `prev does not match line ${raw.lineNo - 1}: line ${raw.lineNo - 1} was edited, or records were deleted, inserted or reordered here`;
          return fail(result, at(reason));
        }
        expected = createHash('sha256').update(raw.bytes).digest('hex');
        expectedFrom = 'previous';
        result.records++;
      }
      expectedFrom = `the last record of ${basename(file)}`;
    }
  }
  return result;
}

function fail(result: VerifyResult, broken: { file: string; line: number; reason: string }): VerifyResult {
  return { ...result, ok: false, firstBroken: broken };
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

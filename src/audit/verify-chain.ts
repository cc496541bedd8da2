// Verifies ONE audit chain given as its lines in order — from JSONL files (verify.ts), or from any
// store that keeps each writer's chain (one chain per writer instance) — and its signed checkpoints.
//
// Links: every line's `prev` is the SHA-256 of the previous line's bytes (the first: GENESIS_HASH).
// Checkpoints (checkpoint.ts), each checked where it stands:
//   - `head` equals `prev` (else the chain below was relinked),
//   - `records` equals the number of lines before it (else lines were removed or added below it and
//     the chain recomputed),
//   - one chain id, and seq 1, 2, 3 … without a gap (a gap is a removed checkpoint),
//   - with public keys: the key id is one of them and the Ed25519 signature verifies (else the
//     checkpoint was edited or forged, or the whole chain was recomputed: no one without the key can
//     sign the new heads).
// After the last checkpoint: the unsigned tail (its size and age, and whether it is overdue by the
// writer's own schedule), and a newest checkpoint that is neither a shutdown one nor recent, or that
// is a rotation checkpoint (the file after it is gone) (stale).
// A cut-off end that falls exactly on a checkpoint is only visible against an anchor: checkAnchors
// (verify-anchors.ts).
import type { KeyObject } from 'node:crypto';
import { basename } from 'node:path';
import { sha256Hex } from '../sha256.js';
import { GENESIS_HASH } from './record.js';
import { isCheckpointObject, parseCheckpoint, signatureValid, type CheckpointLine } from './checkpoint.js';
import type { ChainReport, Where } from './chain-report.js';

export type { ChainReport, SignedHead, Where } from './chain-report.js';
export { checkAnchors, type AllChains, type AnchorFinding } from './verify-anchors.js';

export interface ChainLine {
  bytes: Buffer;
  /** Where the line is, for messages: a file and line number, or a row. */
  file?: string;
  line: number;
  /** False: a last line cut short (never acknowledged); verification stops there. */
  complete?: boolean;
  /** The source found this line unusable (e.g. torn in a file that is not the newest). */
  broken?: string;
}

export interface ChainOptions {
  /** Require the first line to carry GENESIS_HASH (default true); false after retention removed the start. */
  requireGenesis?: boolean;
  /** The `prev` the first line must carry when the chain starts elsewhere (a rotated part). */
  start?: { hash: string; from: string };
  /** Public keys by key id: signatures are checked only with keys. */
  publicKeys?: ReadonlyMap<string, KeyObject>;
  /** For the tail's age (default Date.now()). */
  now?: number;
  /** What a position is called in messages: a file's `line` (default) or a table's `row`. */
  unit?: 'line' | 'row';
  /** What a chain ending on a rotation checkpoint lacks, for messages (default: "the lines after it are missing"). */
  afterRotation?: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

export async function verifyChain(
  lines: AsyncIterable<ChainLine> | Iterable<ChainLine>,
  opts: ChainOptions = {},
): Promise<ChainReport> {
  const keys = opts.publicKeys;
  const now = opts.now ?? Date.now();
  const r: ChainReport = { ok: true, records: 0, checkpoints: 0, signaturesChecked: keys !== undefined, signed: [] };
  let expected = opts.start?.hash ?? ((opts.requireGenesis ?? true) ? GENESIS_HASH : undefined);
  const fromGenesis = opts.start === undefined && (opts.requireGenesis ?? true);
  let expectedFrom = opts.start?.from ?? 'genesis';
  let index = 0; // lines before the current one, in this walk
  let offset: number | undefined = fromGenesis ? 0 : undefined; // chain position of this walk's first line
  let lastSeq: number | undefined;
  let last: CheckpointLine | undefined;
  let before: Where | undefined;
  let tail: { where: Where; n: number; firstAt?: string; lastAt?: string } | undefined;
  const fail = (l: ChainLine, reason: string): ChainReport => {
    r.ok = false;
    r.firstBroken = { ...where(l), reason };
    return r;
  };
  for await (const l of lines) {
    if (l.broken) return fail(l, l.broken);
    if (l.complete === false) {
      r.incompleteTail = { ...where(l), bytes: l.bytes.length };
      break;
    }
    if (l.bytes.length === 0) return fail(l, 'empty line');
    let rec: unknown;
    try {
      rec = JSON.parse(l.bytes.toString('utf8'));
    } catch {
      return fail(l, 'not valid JSON');
    }
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return fail(l, 'not a JSON object');
    const prev = (rec as { prev?: unknown }).prev;
    if (typeof prev !== 'string' || !HEX64.test(prev)) return fail(l, 'missing or malformed "prev"');
    if (expected !== undefined && prev !== expected) {
      if (expectedFrom === 'genesis')
        return fail(
          l,
          'the first record does not start the chain (prev is not the genesis hash): earlier records or files are missing',
        );
      if (expectedFrom !== 'previous')
        return fail(
          l,
          `prev does not match ${expectedFrom}: a file is missing or out of order, or that record was edited`,
        );
      if (before && before.file !== l.file)
        return fail(
          l,
          `prev does not match the last record of ${before.file === undefined ? 'the previous source' : basename(before.file)}: a file is missing or out of order, or that record was edited`,
        );
      const unit = opts.unit ?? 'line';
      const n = before ? `${unit} ${before.line}` : `the ${unit} before`;
      return fail(l, `prev does not match ${n}: ${n} was edited, or records were deleted, inserted or reordered here`);
    }
    if (isCheckpointObject(rec)) {
      const c = parseCheckpoint(rec as Record<string, unknown>);
      if (typeof c === 'string') return fail(l, c);
      const seq = c['tollgate.checkpoint.seq'];
      const name = `checkpoint #${seq}`;
      if (c['tollgate.checkpoint.head'] !== prev)
        return fail(l, `${name}: its signed head is not its prev: the chain below it was relinked`);
      const records = c['tollgate.checkpoint.records'];
      offset ??= records - index;
      if (records !== offset + index)
        return fail(
          l,
          `${name} says ${records} lines precede it, the chain has ${offset + index}: lines were removed or added below it and the chain recomputed`,
        );
      if (r.chain !== undefined && c['tollgate.checkpoint.chain'] !== r.chain)
        return fail(l, `${name} belongs to another chain (${c['tollgate.checkpoint.chain']}): lines were spliced in`);
      if (lastSeq !== undefined && seq !== lastSeq + 1)
        return fail(
          l,
          seq > lastSeq + 1
            ? `checkpoint #${lastSeq + 1}${seq > lastSeq + 2 ? `…#${seq - 1}` : ''} missing before ${name}: a checkpoint was deleted`
            : `${name} repeats or goes back after #${lastSeq}`,
        );
      if (lastSeq === undefined && fromGenesis && seq !== 1)
        return fail(
          l,
          `checkpoint #1${seq > 2 ? `…#${seq - 1}` : ''} missing before ${name} (the chain was read from its genesis): a checkpoint was deleted`,
        );
      if (keys) {
        const kid = c['tollgate.checkpoint.key_id'];
        const key = keys.get(kid);
        if (!key) return fail(l, `${name} is signed with key id ${kid}, which is not among the given public keys`);
        if (!signatureValid(c, key))
          return fail(
            l,
            `${name}: the signature does not verify: the checkpoint was edited or forged, or the chain was rewritten and recomputed`,
          );
      }
      r.chain = c['tollgate.checkpoint.chain'];
      lastSeq = seq;
      last = c;
      r.checkpoints++;
      r.lastCheckpoint = { ...where(l), seq, records, timestamp: c.timestamp, reason: c['tollgate.checkpoint.reason'] };
      r.signed.push({ seq, records, head: prev, signature: c['tollgate.checkpoint.signature'] });
      tail = undefined;
    } else {
      r.records++;
      const ts = (rec as { timestamp?: unknown }).timestamp;
      const at = typeof ts === 'string' ? ts : undefined;
      if (!tail) tail = { where: where(l), n: 0, firstAt: at };
      tail.n++;
      tail.lastAt = at;
    }
    expected = sha256Hex(l.bytes);
    expectedFrom = 'previous';
    before = where(l);
    index++;
  }
  if (tail) {
    const t: NonNullable<ChainReport['unsignedTail']> = { ...tail.where, records: tail.n };
    if (tail.firstAt) t.firstAt = tail.firstAt;
    if (tail.lastAt) t.lastAt = tail.lastAt;
    const first = tail.firstAt ? Date.parse(tail.firstAt) : Number.NaN;
    if (Number.isFinite(first)) t.ageMs = Math.max(0, now - first);
    if (last) {
      const every = last['tollgate.checkpoint.every_records'];
      const ms = last['tollgate.checkpoint.every_ms'];
      if (tail.n > every) t.overdue = `more than ${every} records without a checkpoint`;
      else if (t.ageMs !== undefined && t.ageMs > 2 * ms + 10_000)
        t.overdue = `unsigned for longer than the writer's interval (${ms / 1000} s)`;
    }
    r.unsignedTail = t;
  } else if (last && last['tollgate.checkpoint.reason'] === 'rotation') {
    // The writer seals a file only on its way to writing the batch that did not fit (writer.ts): a
    // rotation checkpoint is never a log's last line for long. As the last line, what followed it
    // (the active file: its records and checkpoints, even a shutdown one) is gone.
    const at = r.lastCheckpoint?.file === undefined ? '' : ` of ${basename(r.lastCheckpoint.file)}`;
    r.stale = `the log ends on the rotation checkpoint #${last['tollgate.checkpoint.seq']}${at}, which the writer writes only right before the next records: ${opts.afterRotation ?? 'the lines after it are missing'} (deleted, or cut off), or the write right after the rotation failed (a full disk) and nothing was written since`;
  } else if (last && last['tollgate.checkpoint.reason'] !== 'shutdown') {
    const age = now - Date.parse(last.timestamp);
    const hb = last['tollgate.checkpoint.heartbeat_ms'];
    if (age > hb + Math.max(60_000, hb / 10))
      r.stale = `the newest checkpoint (#${last['tollgate.checkpoint.seq']}) is ${Math.round(age / 1000)} s old, the writer checkpoints every ${hb / 1000} s even when idle, and it is not a shutdown checkpoint: the log was cut off after it, or the writer crashed`;
  }
  return r;
}

function where(l: ChainLine): Where {
  return l.file === undefined ? { line: l.line } : { file: l.file, line: l.line };
}

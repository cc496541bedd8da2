// `tollgate audit keygen` (an Ed25519 key pair for signed checkpoints) and the output of
// `tollgate audit verify [--public-key FILE]… [--anchor FILE]…`, for JSONL files and (through
// verifyCommand, with a verifier of its own) for the chains in PostgreSQL.
//
// Exit codes of verify: 0 the chain is intact (with --public-key: and every record is covered by a
// valid signed checkpoint, the end is not stale, the anchor agrees); 1 it is broken (a link, a
// checkpoint, a signature, or the anchor disagrees); 2 usage or an unreadable key/anchor file; 3 with
// --public-key: intact, but records at the end are not signed (an unsigned tail: a running writer's
// last records, or a crash, or a cut) or the end is stale.
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, createReadStream, existsSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import {
  isCheckpointObject,
  keyIdOf,
  loadPublicKeys,
  parseCheckpoint,
  type CheckpointLine,
} from '../audit/checkpoint.js';
import { checkAnchors, type AllChains, type ChainReport, type Where } from '../audit/verify-chain.js';
import { verifyAudit, type VerifyOptions } from '../audit/verify.js';
import { printable } from './terminal-text.js';

export const KEYGEN_HELP = `Usage: tollgate audit keygen [--out FILE]
  Writes an Ed25519 private key (PKCS#8 PEM, mode 0600) to FILE (default ./audit-signing-key.pem) and
  its public key to FILE with .pub.pem; prints the public key and its key id. Never overwrites.
  Give the gateway the private key (audit.signing_key_file); keep the public key where verification
  runs (tollgate audit verify --public-key).
`;

export function auditKeygen(argv: string[], out: (s: string) => void, err: (s: string) => void): number {
  let out_: string;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { out: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      out(KEYGEN_HELP);
      return 0;
    }
    if (positionals.length > 0) throw new Error(`unexpected ${positionals.join(' ')}`);
    out_ = values.out ?? 'audit-signing-key.pem';
  } catch (e) {
    err(`tollgate audit keygen: ${(e as Error).message}\n\n${KEYGEN_HELP}`);
    return 2;
  }
  const pubPath = `${out_.replace(/\.pem$/, '')}.pub.pem`;
  for (const p of [out_, pubPath])
    if (existsSync(p)) {
      err(`tollgate audit keygen: ${p} exists; not overwriting a key (choose another --out)\n`);
      return 1;
    }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pub = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  try {
    writeFileSync(out_, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    chmodSync(out_, 0o600);
    writeFileSync(pubPath, pub, { mode: 0o644, flag: 'wx' });
  } catch (e) {
    err(`tollgate audit keygen: ${(e as Error).message}\n`);
    return 1;
  }
  out(
    [
      `Private key (mode 0600; only the gateway reads it): ${out_}`,
      `  audit:`,
      `    signing_key_file: ${basename(out_)}`,
      `Public key (key id ${keyIdOf(publicKey)}): ${pubPath}`,
      pub.trimEnd(),
      `Verify with: tollgate audit verify --public-key ${pubPath}`,
      '',
    ].join('\n'),
  );
  return 0;
}

/** Checkpoints in an anchor file: checkpoint lines, gateway log lines with a `checkpoint`, webhook bodies. */
export async function readAnchorFile(file: string): Promise<CheckpointLine[]> {
  const out: CheckpointLine[] = [];
  const take = (v: unknown) => {
    if (!isCheckpointObject(v)) return;
    const c = parseCheckpoint(v as Record<string, unknown>);
    if (typeof c !== 'string') out.push(c);
  };
  // Streamed: a gateway log can be large; only lines that mention a checkpoint are parsed.
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (!line.includes('tollgate.checkpoint.seq')) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    const o = v as { checkpoint?: unknown; records?: unknown };
    take(v);
    take(o.checkpoint);
    if (Array.isArray(o.records)) for (const r of o.records) take(r);
  }
  return out;
}

export interface VerifyCommandOptions {
  partial: boolean;
  publicKeys: readonly string[];
  anchors: readonly string[];
  now?: number;
}

const age = (ms: number) =>
  ms < 120_000
    ? `${Math.round(ms / 1000)} s`
    : ms < 7_200_000
      ? `${Math.round(ms / 60_000)} min`
      : `${(ms / 3_600_000).toFixed(1)} h`;

/** What the verify output needs from a verified log: JSONL files (verify.ts) or PostgreSQL chains. */
export interface VerifiedLog {
  records: number;
  checkpoints: number;
  /** How much was read: "3 files", "2 chains". */
  extent: string;
  /** "chain intact", "every chain intact". */
  intact: string;
  /** The first break, with its position ("at FILE:LINE", "in chain C at row N"). */
  broken?: { at: string; reason: string };
  /** For stderr, before the verdict (an incomplete last line). */
  note?: string;
  /** One report per chain, in the order read. */
  sets: (ChainReport & { stem: string })[];
  /** A position inside a chain, for the unsigned tail ("FILE:LINE", "row N"). */
  at(w: Where): string;
  /** Every chain there is was read (PostgreSQL): an anchored chain missing from it was deleted. */
  all?: AllChains;
}

/** Verifies one log (files, PostgreSQL) as the options say. */
export type LogVerifier = (opts: VerifyOptions & { requireGenesis: boolean }) => Promise<VerifiedLog>;

/** `tollgate audit verify FILE|DIR`. */
export function auditVerify(
  path: string,
  o: VerifyCommandOptions,
  out: (s: string) => Promise<void>,
  err: (s: string) => void,
): Promise<number> {
  return verifyCommand((opts) => verifiedFiles(path, opts), o, out, err);
}

async function verifiedFiles(path: string, opts: VerifyOptions): Promise<VerifiedLog> {
  const r = await verifyAudit(path, opts);
  const t = r.incompleteTail;
  return {
    records: r.records,
    checkpoints: r.checkpoints,
    extent: plural(r.files, 'file'),
    intact: 'chain intact',
    ...(!r.ok &&
      r.firstBroken && {
        broken: { at: `at ${r.firstBroken.file}:${r.firstBroken.line}`, reason: r.firstBroken.reason },
      }),
    ...(t && {
      note: `${t.file}:${t.line} is an incomplete last line (a write cut short by a crash, never acknowledged)`,
    }),
    sets: r.sets,
    at: (w) => `${w.file ?? ''}:${w.line}`,
  };
}

/**
 * The verify command on any log: loads the keys and anchors (exit 2 if unusable), runs the verifier,
 * and prints the findings — the same wording and exit codes for files and for PostgreSQL.
 */
export async function verifyCommand(
  verify: LogVerifier,
  o: VerifyCommandOptions,
  print: (s: string) => Promise<void>,
  printErr: (s: string) => void,
): Promise<number> {
  // Each message is one line ending in "\n" and quotes what the log holds (key ids, chain ids, file
  // names): whoever rewrote the log must not paint an "OK" over the "BROKEN" with control characters.
  const out = (s: string) => print(`${printable(s.replace(/\n$/, ''))}\n`);
  const err = (s: string) => printErr(`${printable(s.replace(/\n$/, ''))}\n`);
  let keys;
  let anchors: CheckpointLine[] = [];
  try {
    keys = o.publicKeys.length > 0 ? loadPublicKeys(o.publicKeys) : undefined;
    for (const f of o.anchors) anchors = anchors.concat(await readAnchorFile(f));
  } catch (e) {
    err(`tollgate audit verify: ${(e as Error).message}\n`);
    return 2;
  }
  const r = await verify({
    requireGenesis: !o.partial,
    ...(keys && { publicKeys: keys }),
    ...(o.now !== undefined && { now: o.now }),
  });
  if (r.note) err(`note: ${r.note}\n`);
  if (r.broken) {
    await out(`BROKEN ${r.broken.at}: ${r.broken.reason}\n`);
    return 1;
  }
  if (!keys && anchors.length === 0) {
    await out(
      `OK: ${plural(r.records, 'record')} in ${r.extent}, ${r.intact}${r.checkpoints > 0 ? ` (${plural(r.checkpoints, 'checkpoint')}; signatures not checked: give --public-key)` : ''}\n`,
    );
    return 0;
  }
  let uncovered = 0;
  for (const s of r.sets) {
    const last = s.lastCheckpoint;
    await out(
      `${s.stem}: ${s.records} records, ${s.checkpoints} checkpoints${keys ? ' (signatures valid)' : ''}${
        last ? `, the last #${last.seq} (${last.reason}) at ${last.timestamp}` : ''
      }\n`,
    );
    const t = s.unsignedTail;
    if (t && keys) {
      uncovered++;
      await out(
        `  UNSIGNED TAIL: ${t.records} record${t.records === 1 ? '' : 's'} after ${last ? `checkpoint #${last.seq}` : 'the start (no checkpoint at all)'}, from ${r.at(t)}${
          t.ageMs !== undefined ? `, the oldest ${age(t.ageMs)} old` : ''
        }${t.overdue ? ` — OVERDUE: ${t.overdue}: the writer crashed, or a checkpoint after them was deleted` : ' (a running writer signs them at its next checkpoint)'}\n`,
      );
    }
    if (s.stale && keys) {
      uncovered++;
      await out(`  STALE: ${s.stale}\n`);
    }
  }
  const findings = anchors.length > 0 ? checkAnchors(r.sets, anchors, keys, r.all) : [];
  for (const f of findings) await out(`  ${f.ok ? 'note' : 'ANCHOR'}: ${f.message}\n`);
  if (findings.some((f) => !f.ok)) {
    await out(`BROKEN: the log does not match its anchor\n`);
    return 1;
  }
  if (uncovered > 0) {
    await out(
      `INCOMPLETE: ${plural(r.records, 'record')} in ${r.extent}, ${r.intact}, but not every record is signed\n`,
    );
    return 3;
  }
  // What OK does not prove without an anchor: say so where it is read, not only in the docs.
  if (keys && anchors.length === 0)
    await out(
      `  note: no --anchor given: a log cut off right after one of its checkpoints (younger than the heartbeat) would look whole\n`,
    );
  await out(
    `OK: ${plural(r.records, 'record')} in ${r.extent}, ${r.intact}${keys ? ', every record signed' : ''}${anchors.length > 0 ? `, ${plural(anchors.length, 'anchored checkpoint')} agree` : ''}\n`,
  );
  return 0;
}

/** "1 file", "2 files": the verdict is read by people. */
export const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

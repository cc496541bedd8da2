// Signed checkpoints: a line of the audit chain that states the chain head — how many lines precede it
// (`records`, counted from the chain's genesis) and the hash of the last of them (`head`, which is also
// the line's `prev`) — signed with the writer's Ed25519 key. A checkpoint covers every line before it
// (they are hash-linked), so an edit, a deletion or a recomputed chain below it no longer matches its
// signature; the key id says which key signed (several keys over time: verify takes them all).
//
// The signature is over a canonical text (tag, then the JSON array of the signed fields in a fixed
// order), not over the line: the line's JSON stays free to carry `prev` and the record id.
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

export type CheckpointReason = 'records' | 'interval' | 'heartbeat' | 'rotation' | 'shutdown';

/** What a checkpoint line holds, besides `prev`. Keys in line order. */
export interface Checkpoint {
  timestamp: string;
  'tollgate.record.id': string;
  'service.instance.id': string;
  /** Marks the line as a checkpoint (audit records have no such key). */
  'tollgate.record.kind': 'checkpoint';
  /** Random id of the chain, kept across restarts; anchors are matched by chain and seq. */
  'tollgate.checkpoint.chain': string;
  /** 1, 2, 3 … within the chain: a missing number is a removed checkpoint. */
  'tollgate.checkpoint.seq': number;
  /** Lines of the chain before this one (records and earlier checkpoints), from genesis. */
  'tollgate.checkpoint.records': number;
  /** SHA-256 of the previous line: the chain head being signed. Equals `prev`. */
  'tollgate.checkpoint.head': string;
  'tollgate.checkpoint.reason': CheckpointReason;
  /** The writer's schedule, so a verifier can tell an overdue tail from a young one. */
  'tollgate.checkpoint.every_records': number;
  'tollgate.checkpoint.every_ms': number;
  'tollgate.checkpoint.heartbeat_ms': number;
  'tollgate.checkpoint.key_id': string;
  /** Ed25519 over checkpointMessage(), base64url. */
  'tollgate.checkpoint.signature': string;
}

export type CheckpointLine = Checkpoint & { prev: string };

const TAG = 'tollgate-audit-checkpoint/1\n';

/** The bytes that are signed: every field but the record id and the signature itself. */
export function checkpointMessage(c: Omit<Checkpoint, 'tollgate.checkpoint.signature'>): Buffer {
  return Buffer.from(
    TAG +
      JSON.stringify([
        c['tollgate.checkpoint.chain'],
        c['service.instance.id'],
        c['tollgate.checkpoint.seq'],
        c['tollgate.checkpoint.records'],
        c['tollgate.checkpoint.head'],
        c.timestamp,
        c['tollgate.checkpoint.reason'],
        c['tollgate.checkpoint.every_records'],
        c['tollgate.checkpoint.every_ms'],
        c['tollgate.checkpoint.heartbeat_ms'],
        c['tollgate.checkpoint.key_id'],
      ]),
    'utf8',
  );
}

export interface SigningKey {
  privateKey: KeyObject;
  keyId: string;
}

/** Key id: the first 16 hex digits of the SHA-256 of the public key (SPKI DER). */
export function keyIdOf(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256')
    .update(pub.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

/** The signing key cannot be used (the gateway does not start). */
export class SigningKeyError extends Error {}

/** A PKCS#8 PEM Ed25519 private key (as `tollgate audit keygen` writes it). */
export function loadSigningKey(file: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(file));
  } catch (err) {
    throw new SigningKeyError(`audit.signing_key_file ${file}: ${(err as Error).message}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new SigningKeyError(`audit.signing_key_file ${file}: not an Ed25519 private key`);
  return { privateKey, keyId: keyIdOf(privateKey) };
}

/** Public keys by key id, from SPKI PEM files (or private key files: their public half). */
export function loadPublicKeys(files: readonly string[]): Map<string, KeyObject> {
  const out = new Map<string, KeyObject>();
  for (const file of files) {
    let key: KeyObject;
    try {
      key = createPublicKey(readFileSync(file));
    } catch (err) {
      throw new Error(`${file}: not a public key: ${(err as Error).message}`);
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file}: not an Ed25519 key`);
    out.set(keyIdOf(key), key);
  }
  return out;
}

export function signCheckpoint(c: Omit<Checkpoint, 'tollgate.checkpoint.signature'>, key: SigningKey): Checkpoint {
  const signature = sign(null, checkpointMessage(c), key.privateKey).toString('base64url');
  return { ...c, 'tollgate.checkpoint.signature': signature };
}

export function signatureValid(c: Checkpoint, key: KeyObject): boolean {
  try {
    return verify(null, checkpointMessage(c), key, Buffer.from(c['tollgate.checkpoint.signature'], 'base64url'));
  } catch {
    return false;
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
const REASONS = new Set(['records', 'interval', 'heartbeat', 'rotation', 'shutdown']);

export function isCheckpointObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && (v as Record<string, unknown>)['tollgate.record.kind'] === 'checkpoint';
}

/** A checkpoint line's fields, or a reason it is malformed. Call only on isCheckpointObject values. */
export function parseCheckpoint(v: Record<string, unknown>): CheckpointLine | string {
  const str = (k: string) => typeof v[k] === 'string';
  const int = (k: string) => Number.isSafeInteger(v[k]) && (v[k] as number) >= 0;
  for (const k of ['timestamp', 'service.instance.id', 'tollgate.checkpoint.chain', 'tollgate.checkpoint.key_id'])
    if (!str(k)) return `checkpoint without a string "${k}"`;
  for (const k of [
    'tollgate.checkpoint.seq',
    'tollgate.checkpoint.records',
    'tollgate.checkpoint.every_records',
    'tollgate.checkpoint.every_ms',
    'tollgate.checkpoint.heartbeat_ms',
  ])
    if (!int(k)) return `checkpoint without a whole number "${k}"`;
  const head = v['tollgate.checkpoint.head'];
  if (typeof head !== 'string' || !HEX64.test(head)) return 'checkpoint without a valid "tollgate.checkpoint.head"';
  if (!REASONS.has(v['tollgate.checkpoint.reason'] as string)) return 'checkpoint with an unknown reason';
  if (!str('tollgate.checkpoint.signature')) return 'checkpoint without a signature';
  return v as unknown as CheckpointLine;
}

/** Parses a line that may be a checkpoint (cheap test on the bytes first). */
export function checkpointOfLine(bytes: Buffer | string): CheckpointLine | undefined {
  const s = typeof bytes === 'string' ? bytes : bytes.toString('utf8');
  if (!s.includes('"tollgate.record.kind":"checkpoint"')) return undefined;
  try {
    const v: unknown = JSON.parse(s);
    if (!isCheckpointObject(v)) return undefined;
    const c = parseCheckpoint(v as Record<string, unknown>);
    return typeof c === 'string' ? undefined : c;
  } catch {
    return undefined;
  }
}

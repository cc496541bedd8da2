// A batch of record bodies (group commit): the promise its appenders wait on, and the lines it is
// written as, each chained to the one before by `prev`.
import { sha256Hex } from '../sha256.js';

export interface Batch {
  bodies: string[];
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Lines with their `prev` links from `head`, and the hash of the last. */
export function chain(bodies: readonly string[], head: string): { lines: string[]; hash: string } {
  let hash = head;
  const lines: string[] = new Array(bodies.length);
  for (let i = 0; i < bodies.length; i++) {
    const body = bodies[i]!;
    const line = `${body.slice(0, -1)},"prev":"${hash}"}`;
    hash = sha256Hex(line);
    lines[i] = line;
  }
  return { lines, hash };
}

/** Where chainInto writes: grown as needed, reused by every batch (its bytes are written before the next). */
let scratch = Buffer.allocUnsafe(64 * 1024);
/** What each line adds to its body: `,"prev":"` + 64 hex + `"}` + newline. */
const LINK_BYTES = 76;

/**
 * The same lines as chain's, newline-terminated, written straight into one buffer, and the hash of
 * the last: no string per line and none for the batch (three copies of every record's text per
 * call, measured in the heap profile of the common batch). Valid only until the next call: the
 * caller writes it at once.
 */
export function chainInto(bodies: readonly string[], head: string): { bytes: Buffer; hash: string } {
  let need = 0;
  for (const body of bodies) need += body.length * 3 + LINK_BYTES; // a UTF-16 unit is at most 3 UTF-8 bytes
  if (scratch.length < need) scratch = Buffer.allocUnsafe(Math.max(need, scratch.length * 2));
  const buf = scratch;
  let hash = head;
  let at = 0;
  for (const body of bodies) {
    const start = at;
    at += buf.write(body, at, 'utf8') - 1; // without its closing brace
    at += buf.write(',"prev":"', at, 'latin1');
    at += buf.write(hash, at, 'latin1');
    at += buf.write('"}', at, 'latin1');
    hash = sha256Hex(buf.subarray(start, at));
    buf[at++] = 0x0a;
  }
  return { bytes: buf.subarray(0, at), hash };
}

/** The bytes the lines take written, a newline after each. */
export function byteLength(lines: readonly string[]): number {
  let n = lines.length;
  for (const l of lines) n += Buffer.byteLength(l, 'utf8');
  return n;
}

export function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // a caller that drops the promise must not crash the process
  return { bodies: [], promise, resolve, reject };
}

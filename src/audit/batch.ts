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

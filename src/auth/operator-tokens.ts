// Operator credentials (admin tokens, the metrics token) compared in constant time: the presented
// token is hashed once and its digest compared with EVERY configured digest by timingSafeEqual, so
// neither the position of a mismatch nor which token matched shows in the response time.
import { createHash, timingSafeEqual } from 'node:crypto';

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

/** A `sha256:<64 hex>` line as stored in config; undefined when malformed. */
function fromHashLine(line: string): Buffer | undefined {
  const m = /^sha256:([0-9a-f]{64})$/i.exec(line.trim());
  return m ? Buffer.from(m[1] as string, 'hex') : undefined;
}

export interface OperatorTokens {
  /** The index of the matching configured token (plaintext ones first, then hashes), or -1. */
  match(presented: string | undefined): number;
  /** The SHA-256 digest of each configured token, in `match` order (for binding sessions to a token). */
  readonly digests: readonly Buffer[];
}

export function operatorTokens(plaintext: readonly string[], hashes: readonly string[] = []): OperatorTokens {
  const digests = [...plaintext.map(sha256), ...hashes.map(fromHashLine).filter((d): d is Buffer => d !== undefined)];
  return {
    digests,
    match(presented) {
      if (presented === undefined || presented.length === 0 || presented.length > 4096) return -1;
      const d = sha256(presented);
      let found = -1;
      // No early exit: every configured digest is compared, whichever matches.
      for (let i = 0; i < digests.length; i++) if (timingSafeEqual(d, digests[i] as Buffer) && found < 0) found = i;
      return found;
    },
  };
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerOf(header: string | undefined): string | undefined {
  return header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
}

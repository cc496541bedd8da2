// What verifying one chain reports (its records, checkpoints, signed heads, unsigned tail and first break); separate so the chain walk (verify-chain.ts) and the anchor comparison (verify-anchors.ts) share it without importing each other.

export interface Where {
  file?: string;
  line: number;
}

export interface SignedHead {
  seq: number;
  records: number;
  head: string;
  signature: string;
}

export interface ChainReport {
  ok: boolean;
  /** Audit records (lines that are not checkpoints) read until the end or the first break. */
  records: number;
  checkpoints: number;
  signaturesChecked: boolean;
  firstBroken?: Where & { reason: string };
  incompleteTail?: Where & { bytes: number };
  chain?: string;
  lastCheckpoint?: Where & { seq: number; records: number; timestamp: string; reason: string };
  /** Records after the last checkpoint: not covered by any signature yet. */
  unsignedTail?: Where & { records: number; firstAt?: string; lastAt?: string; ageMs?: number; overdue?: string };
  /** The newest checkpoint is older than the writer's heartbeat and not a shutdown one. */
  stale?: string;
  /** Every checkpoint's signed head, for checkAnchors. */
  signed: SignedHead[];
}

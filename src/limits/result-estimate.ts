// What a tool call reserves against a token budget before its result is known: a high percentile
// (p95) of that tool's recent result sizes, or a configured default for a tool not seen yet.
//
// Why an estimate and not one token: concurrent calls each see the budget before any result is
// counted, so a 1-token reservation let 64 calls through a 2 000-token budget and charged 6 464.
// With an estimate e per call, at most ⌊budget / e⌋ calls are admitted together and the overshoot
// is bounded by what those calls return beyond their estimates (README: "Token budgets").
// Keyed by whatever the caller passes: the limits step uses agent × tool, so one agent's calls
// (huge results, or tiny ones) never move what another agent's calls reserve. State is per gateway
// process, bounded by `maxKeys` (least recently observed dropped first) × `window` 32-bit counts.

export interface ResultEstimatorOptions {
  /** Tokens reserved under a key with no recorded result yet (config `default_estimate`). */
  defaultTokens: number;
  /** Recent results kept per key. Default 100. */
  window?: number;
  /** Which percentile of them to reserve, 0 < p ≤ 1. Default 0.95. */
  percentile?: number;
  /** Keys remembered at once. Default 8192 (≈ 4 MB at most with the default window). */
  maxKeys?: number;
}

interface Recent {
  values: Uint32Array;
  /** How many slots hold a value (≤ window). */
  filled: number;
  /** Next slot to overwrite. */
  next: number;
  /** The percentile over the filled slots, recomputed on each observation (reads are hot). */
  estimate: number;
}

const MAX_U32 = 0xffff_ffff;

export class ResultEstimator {
  private readonly byKey = new Map<string, Recent>();
  private readonly window: number;
  private readonly percentile: number;
  private readonly maxKeys: number;
  readonly defaultTokens: number;

  constructor(o: ResultEstimatorOptions) {
    this.window = o.window ?? 100;
    this.percentile = o.percentile ?? 0.95;
    this.maxKeys = o.maxKeys ?? 8192;
    if (!Number.isSafeInteger(o.defaultTokens) || o.defaultTokens < 1)
      throw new RangeError('defaultTokens must be a positive integer');
    if (!Number.isSafeInteger(this.window) || this.window < 1)
      throw new RangeError('window must be a positive integer');
    if (!(this.percentile > 0 && this.percentile <= 1)) throw new RangeError('percentile must be in (0, 1]');
    if (!Number.isSafeInteger(this.maxKeys) || this.maxKeys < 1)
      throw new RangeError('maxKeys must be a positive integer');
    this.defaultTokens = o.defaultTokens;
  }

  /** Tokens to reserve for a call under `key` (never below 1, so a spent budget refuses the call). */
  estimate(key: string): number {
    return Math.max(1, this.byKey.get(key)?.estimate ?? this.defaultTokens);
  }

  /** Records the token count of one result under `key`. */
  observe(key: string, tokens: number): void {
    const n = Number.isFinite(tokens) && tokens > 0 ? Math.min(MAX_U32, Math.ceil(tokens)) : 0;
    let r = this.byKey.get(key);
    if (r)
      this.byKey.delete(key); // re-inserted below: Map order is recency order
    else {
      r = { values: new Uint32Array(this.window), filled: 0, next: 0, estimate: 0 };
      if (this.byKey.size >= this.maxKeys) {
        const oldest = this.byKey.keys().next().value;
        if (oldest !== undefined) this.byKey.delete(oldest);
      }
    }
    this.byKey.set(key, r);
    r.values[r.next] = n;
    r.next = (r.next + 1) % this.window;
    if (r.filled < this.window) r.filled++;
    // Nearest-rank percentile: sorting ≤ window (100) integers is a few µs, once per call.
    const sorted = r.values.slice(0, r.filled).sort();
    r.estimate = sorted[Math.ceil(this.percentile * r.filled) - 1] ?? n;
  }

  /** Keys currently remembered (for tests). */
  get size(): number {
    return this.byKey.size;
  }
}

// A small bounded cache with per-entry deadlines. Map iteration order is insertion order, so the
// first key is always the oldest: eviction is O(1) without a separate LRU list.
export class ExpiringCache<V> {
  readonly #entries = new Map<string, { value: V; until: number }>();

  constructor(readonly maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0) {
      throw new Error(`cache: maxEntries must be a non-negative integer (got ${maxEntries})`);
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value, if present and `now` is before its deadline; expired entries are dropped. */
  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (now >= entry.until) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Stores `value` until `until` (ms since epoch); evicts the oldest entries when full. */
  set(key: string, value: V, until: number): void {
    if (this.maxEntries === 0) return;
    this.#entries.delete(key); // re-insert at the back
    while (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, until });
  }

  clear(): void {
    this.#entries.clear();
  }
}

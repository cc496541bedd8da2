// Lease releases Redis could not take, kept (bounded) and retried once it is back; separate so redis-store.ts keeps to the store's logic.
/** Lease releases kept for when Redis is back (beyond this, the lease TTL reclaims them). */
const MAX_UNRELEASED = 10_000;

/** Lease set key → ids whose release Redis did not take: removed once it is back. */
export class UnreleasedLeases {
  private readonly unreleased = new Map<string, Set<string>>();
  private unreleasedCount = 0;

  keep(rkey: string, id: string): void {
    if (this.unreleasedCount >= MAX_UNRELEASED) return;
    let ids = this.unreleased.get(rkey);
    if (!ids) this.unreleased.set(rkey, (ids = new Set()));
    ids.add(id);
    this.unreleasedCount++;
  }

  /** Retries every kept release with `zrem`; those that fail again are kept again. */
  flush(zrem: (rkey: string, ids: Set<string>) => Promise<unknown>): void {
    const pending = [...this.unreleased];
    this.unreleased.clear();
    this.unreleasedCount = 0;
    for (const [rkey, ids] of pending)
      zrem(rkey, ids).catch(() => {
        for (const id of ids) this.keep(rkey, id);
      });
  }
}

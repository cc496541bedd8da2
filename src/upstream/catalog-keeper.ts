// An upstream's catalog over time: fetched whole from one session, fetched again on list_changed or
// when a 2026 list's ttlMs runs out, and never overwritten by a slower, older fetch.
import type { Logger } from 'pino';
import { CAPABILITY_OF, emptyCatalog, fetchList, type Catalog, type CatalogKind } from './catalog.js';
import type { UpstreamSession } from './session.js';

/** Shorter ttlMs values are not polled (the listen stream reports changes). */
const MIN_TTL_REFRESH_MS = 1000;

export interface CatalogKeeperOptions {
  requestMs: number;
  /** Entries kept per list (max_catalog_entries). */
  maxEntries: number;
  /** Bytes fetched per list (max_catalog_bytes). */
  maxBytes: number;
  log: Logger;
  /** The session the catalog comes from now (undefined: nothing to fetch from). */
  source(): UpstreamSession | undefined;
  /** A ttl refresh found a list changed. */
  changed(kinds: readonly CatalogKind[]): void;
  /** Lists never kept (they would be one user's data; see UpstreamCredentials.catalogAsUser). */
  withheld?: readonly CatalogKind[];
}

export class CatalogKeeper {
  catalog: Catalog = emptyCatalog();
  /** Lists whose last fetch found more than `maxEntries` or `maxBytes` (only the first were kept). */
  readonly truncated = new Set<CatalogKind>();
  /** Fetch generation per list: a slower, older fetch must not overwrite a newer one. */
  private readonly generation: Record<CatalogKind, number> = {
    tools: 0,
    prompts: 0,
    resources: 0,
    resourceTemplates: 0,
  };
  private readonly ttlTimers = new Map<CatalogKind, NodeJS.Timeout>();
  /** Fetches in flight: a list_changed during the first fetch makes that fetch's answer stale. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly opts: CatalogKeeperOptions) {}

  /** Per set of lists: the fetch running, and the one queued to start after it. */
  private readonly running = new Map<string, Promise<void>>();
  private readonly queued = new Map<string, Promise<void>>();

  /**
   * Fetches these lists again. Calls while a fetch of them runs share one fetch queued after it
   * (the running one may have read the list before the change): an upstream announcing changes
   * 500 times at once costs two fetches, not 500 (each up to 100 pages) and 500 waves of
   * list_changed to every agent. Callers get the same promise for the same fetch.
   */
  refresh(kinds: readonly CatalogKind[]): Promise<void> {
    const key = kinds.join();
    const queued = this.queued.get(key);
    if (queued !== undefined) return queued;
    const running = this.running.get(key);
    const start = (): Promise<void> => {
      this.queued.delete(key);
      const p = this.fetch(kinds);
      this.running.set(key, p);
      const done = (): void => {
        if (this.running.get(key) === p) this.running.delete(key);
      };
      p.then(done, done);
      return p;
    };
    const p = running !== undefined ? running.then(start, start) : start();
    if (running !== undefined) this.queued.set(key, p);
    this.inFlight.add(p);
    const done = (): void => void this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  /**
   * Resolves once no fetch is in flight (each is bounded by requestMs), so the catalog is the
   * newest the upstream announced; a server that keeps announcing changes is waited on at most
   * `timeoutMs`.
   */
  async settled(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight.size > 0 && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((r) => {
        timer = setTimeout(r, deadline - Date.now());
      });
      await Promise.race([Promise.allSettled([...this.inFlight]), timeout]);
      clearTimeout(timer);
    }
  }

  private async fetch(kinds: readonly CatalogKind[]): Promise<void> {
    const session = this.opts.source();
    if (!session) return;
    const caps = session.init?.capabilities ?? {};
    await Promise.all(
      kinds.map(async (k) => {
        const gen = ++this.generation[k];
        const fetched =
          CAPABILITY_OF[k] in caps && !this.opts.withheld?.includes(k)
            ? await fetchList(session, k, this.opts.requestMs, this.opts.maxEntries, this.opts.maxBytes)
            : { entries: [], ttlMs: undefined, truncated: false };
        if (gen !== this.generation[k] || this.opts.source() !== session) return;
        if (fetched.truncated) {
          if (!this.truncated.has(k))
            this.opts.log.warn(
              { list: k, kept: fetched.entries.length },
              fetched.cutBy === 'bytes'
                ? `upstream lists more than max_catalog_bytes (${this.opts.maxBytes}) of ${k}: the rest is dropped`
                : `upstream lists more than max_catalog_entries (${this.opts.maxEntries}) ${k}: the rest is dropped`,
            );
          this.truncated.add(k);
        } else this.truncated.delete(k);
        this.catalog = { ...this.catalog, [k]: fetched.entries };
        this.expireAfter(k, fetched.ttlMs);
      }),
    );
  }

  clear(): void {
    this.catalog = emptyCatalog();
    this.truncated.clear();
  }

  /** A 2026 list says how long it stays fresh: fetch it again then (and tell agents if it changed). */
  private expireAfter(kind: CatalogKind, ttlMs: number | undefined): void {
    clearTimeout(this.ttlTimers.get(kind));
    if (ttlMs === undefined || ttlMs < MIN_TTL_REFRESH_MS) return;
    const timer = setTimeout(
      () => {
        const before = this.catalog[kind];
        this.refresh([kind]).then(
          () => {
            if (JSON.stringify(before) !== JSON.stringify(this.catalog[kind])) this.opts.changed([kind]);
          },
          (err: Error) => this.opts.log.warn({ err: err.message }, 'catalog refresh failed'),
        );
      },
      Math.min(ttlMs, 2 ** 31 - 1),
    );
    timer.unref();
    this.ttlTimers.set(kind, timer);
  }

  close(): void {
    for (const t of this.ttlTimers.values()) clearTimeout(t);
  }
}

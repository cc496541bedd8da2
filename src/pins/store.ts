// The pins in force, in memory, over a backend that keeps them (the pin file, or Redis shared by
// every instance). Observations change memory at once (verdicts must not wait for a disk or a
// network) and are saved in order, each batch applied to the stored book as it is at that moment,
// so an approval made meanwhile (CLI, another instance) is kept, not overwritten. Changes made
// elsewhere come back through the backend's watch.
import type { Logger } from 'pino';
import { ConfigError } from '../config/yaml.js';
import { approvalsBetween, type PinBook, type PinEvent } from './book.js';
import { renderPinFile } from './pin-file.js';

export { loadPinFile, loadPinFileSync, writePinFile } from './file-backend.js';

export type Mutation = (book: PinBook) => PinBook;

export interface PinChange {
  prev: PinBook;
  next: PinBook;
  /** Pending changes that became pins. */
  approvals: PinEvent[];
  /** Who made the change: `pin file` (an outside edit), `admin API`, … */
  source: string;
}

/** Where pins are kept. */
export interface PinBackend {
  /** For people: the pin file's path, or the Redis key. */
  readonly where: string;
  /** How changes read back from it are named in logs and audit records (`pin file`, `pin store`). */
  readonly source: string;
  /** The stored book (nothing stored yet: an empty book); ConfigError when what is stored is invalid. */
  load(): Promise<PinBook>;
  /** Applies the mutations to the stored book as it is now, stores the result and returns it. */
  save(batch: readonly Mutation[]): Promise<PinBook>;
  /** Calls `changed` when the stored book may have changed from elsewhere. */
  watch(changed: () => void): void;
  close(): Promise<void>;
}

/** Unsaved changes kept while the backend cannot be written; older ones are dropped beyond this. */
const MAX_UNSAVED = 1000;

export class PinStore {
  /** Mutations applied in memory but not yet stored. */
  private unsaved: Mutation[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private readonly listeners: ((c: PinChange) => void)[] = [];

  /** Reads the backend once (an invalid book stops the start with its problems), then watches it. */
  static async open(backend: PinBackend, log: Logger): Promise<PinStore> {
    const store = new PinStore(backend, log, await backend.load());
    backend.watch(() => void store.reload('changed elsewhere'));
    return store;
  }

  private constructor(
    private readonly backend: PinBackend,
    private readonly log: Logger,
    private book: PinBook,
  ) {}

  /** Where the pins are kept (shown on the admin page). */
  get file(): string {
    return this.backend.where;
  }

  current(): PinBook {
    return this.book;
  }

  onChange(listener: (c: PinChange) => void): void {
    this.listeners.push(listener);
  }

  /** A change the caller accounts for itself (observations): memory now, the backend soon. */
  record(m: Mutation): void {
    const next = m(this.book);
    if (next === this.book) return;
    this.book = next;
    this.unsaved.push(m);
    if (this.unsaved.length > MAX_UNSAVED) {
      this.unsaved.splice(0, this.unsaved.length - MAX_UNSAVED);
      this.log.warn({ where: this.backend.where }, 'pins: too many unsaved changes; the oldest are dropped');
    }
    // flush() reports its own failures; the chain only orders writes.
    void this.serial(() => this.flush());
  }

  /** A change others must hear of (approvals from the admin API): like `record`, then announced. */
  apply(m: Mutation, source: string): void {
    const prev = this.book;
    this.record(m);
    this.announce(prev, this.book, source);
  }

  /** Reads the backend again (watch, SIGHUP); an invalid book is logged and the book in force stays. */
  reload(reason: string): Promise<{ ok: true } | { ok: false; problems: string[] }> {
    return this.serial(async () => {
      let base: PinBook;
      try {
        base = await this.backend.load();
      } catch (err) {
        const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
        this.log.error({ reason, problems, where: this.backend.where }, 'pins rejected; the pins in force stay');
        return { ok: false as const, problems };
      }
      this.adopt(
        this.unsaved.reduce((b, m) => m(b), base),
        this.backend.source,
      );
      // Changes kept while the backend could not be written go out now (the file fixed, Redis back).
      if (this.unsaved.length > 0) await this.flush();
      return { ok: true as const };
    });
  }

  /** Resolves when every change so far is stored (or has failed to be). */
  flushed(): Promise<void> {
    return this.serial(async () => undefined);
  }

  async close(): Promise<void> {
    await this.flushed();
    await this.backend.close();
  }

  private async flush(): Promise<void> {
    const batch = this.unsaved.slice();
    if (batch.length === 0) return;
    let merged: PinBook;
    try {
      merged = await this.backend.save(batch);
    } catch (err) {
      // Never overwrite pins an operator is in the middle of fixing: keep the changes in memory.
      if (err instanceof ConfigError)
        this.log.error({ problems: err.problems }, 'pin file invalid: new pins are kept in memory until it is fixed');
      else
        this.log.error(
          { err: (err as Error).message, where: this.backend.where },
          'cannot save the pins; new pins are kept in memory',
        );
      return;
    }
    this.unsaved.splice(0, batch.length);
    // Changes made elsewhere meanwhile (an approval) take effect now.
    this.adopt(
      this.unsaved.reduce((b, m) => m(b), merged),
      this.backend.source,
    );
  }

  private adopt(next: PinBook, source: string): void {
    const prev = this.book;
    if (renderPinFile(prev) === renderPinFile(next)) return;
    this.book = next;
    this.announce(prev, next, source);
  }

  private announce(prev: PinBook, next: PinBook, source: string): void {
    if (prev === next) return;
    const change = { prev, next, approvals: approvalsBetween(prev, next), source };
    for (const l of this.listeners) l(change);
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task, task);
    this.chain = run.catch(() => undefined);
    return run;
  }
}

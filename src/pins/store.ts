// The pin file on disk and the book in memory. Observations change memory at once (verdicts must
// not wait for a disk) and are written in order, each batch merged into the file as it is at that
// moment, so a `tollgate pins approve` made meanwhile is kept, not overwritten. Writes are atomic
// (temp file + rename). Edits from outside (CLI, editor) come back through the directory watch.
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from '../config/yaml.js';
import { watchDir, type DirWatch } from '../policy/dir-watch.js';
import { approvalsBetween, emptyBook, type PinBook, type PinEvent } from './book.js';
import { parsePinFile, renderPinFile } from './pin-file.js';

export type Mutation = (book: PinBook) => PinBook;

export interface PinChange {
  prev: PinBook;
  next: PinBook;
  /** Pending changes that became pins. */
  approvals: PinEvent[];
  /** Who made the change: `pin file` (an outside edit), `admin API`, … */
  source: string;
}

export interface PinStoreOptions {
  file: string;
  watch: boolean;
  log: Logger;
}

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'ENOENT';

/** The pin file's book; a missing file is an empty book. Throws ConfigError when it is invalid. */
export function loadPinFileSync(file: string): PinBook {
  try {
    return parsePinFile(readFileSync(file, 'utf8'), file);
  } catch (err) {
    if (isMissing(err)) return emptyBook();
    throw err;
  }
}

export async function loadPinFile(file: string): Promise<PinBook> {
  try {
    return parsePinFile(await readFile(file, 'utf8'), file);
  } catch (err) {
    if (isMissing(err)) return emptyBook();
    throw err;
  }
}

/** Atomic replace: readers (the gateway's watch, the CLI) never see half a file. */
export async function writePinFile(file: string, book: PinBook): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, renderPinFile(book));
  await rename(tmp, file);
}

export class PinStore {
  private book: PinBook;
  /** Mutations applied in memory but not yet in the file. */
  private unsaved: Mutation[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private readonly watcher: DirWatch | undefined;
  private readonly listeners: ((c: PinChange) => void)[] = [];

  /** Reads the file (startup: synchronously; an invalid file stops the start with its problems). */
  constructor(private readonly opts: PinStoreOptions) {
    this.book = loadPinFileSync(opts.file);
    if (opts.watch) {
      const name = basename(opts.file);
      try {
        this.watcher = watchDir(
          dirname(opts.file),
          (n) => n === name,
          () => void this.reload('pin file'),
        );
      } catch (err) {
        opts.log.warn(
          { err: (err as Error).message, file: opts.file },
          'cannot watch the pin file; approvals apply on SIGHUP or from the admin page',
        );
      }
    }
  }

  get file(): string {
    return this.opts.file;
  }

  current(): PinBook {
    return this.book;
  }

  onChange(listener: (c: PinChange) => void): void {
    this.listeners.push(listener);
  }

  /** A change the caller accounts for itself (observations): memory now, the file soon. */
  record(m: Mutation): void {
    const next = m(this.book);
    if (next === this.book) return;
    this.book = next;
    this.unsaved.push(m);
    // flush() reports its own failures; the chain only orders writes.
    void this.serial(() => this.flush());
  }

  /** A change others must hear of (approvals from the admin API): like `record`, then announced. */
  apply(m: Mutation, source: string): void {
    const prev = this.book;
    this.record(m);
    this.announce(prev, this.book, source);
  }

  /** Reads the file again (watch, SIGHUP); an invalid file is logged and the book in force stays. */
  reload(reason: string): Promise<{ ok: true } | { ok: false; problems: string[] }> {
    return this.serial(async () => {
      let base: PinBook;
      try {
        base = await loadPinFile(this.opts.file);
      } catch (err) {
        const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
        this.opts.log.error({ reason, problems }, 'pin file rejected; the pins in force stay');
        return { ok: false as const, problems };
      }
      this.adopt(
        this.unsaved.reduce((b, m) => m(b), base),
        'pin file',
      );
      return { ok: true as const };
    });
  }

  /** Resolves when every change so far is in the file. */
  flushed(): Promise<void> {
    return this.serial(async () => undefined);
  }

  async close(): Promise<void> {
    this.watcher?.close();
    await this.flushed();
  }

  private async flush(): Promise<void> {
    const batch = this.unsaved.slice();
    if (batch.length === 0) return;
    let base: PinBook;
    try {
      base = await loadPinFile(this.opts.file);
    } catch (err) {
      // Never overwrite a file an operator is in the middle of fixing: keep the changes in memory.
      const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
      this.opts.log.error({ problems }, 'pin file invalid: new pins are kept in memory until it is fixed');
      return;
    }
    const merged = batch.reduce((b, m) => m(b), base);
    try {
      await writePinFile(this.opts.file, merged);
    } catch (err) {
      this.opts.log.error(
        { err: (err as Error).message, file: this.opts.file },
        'cannot write the pin file; new pins are kept in memory',
      );
      return;
    }
    this.unsaved.splice(0, batch.length);
    // Outside edits merged in (an approval made while we wrote) take effect now.
    this.adopt(
      this.unsaved.reduce((b, m) => m(b), merged),
      'pin file',
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

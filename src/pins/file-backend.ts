// The pin file as a pin store backend: read and written whole (atomic temp file + rename), each
// save merged into the file as it is at that moment, so a `tollgate pins approve` made meanwhile is
// kept; outside edits (CLI, editor) come back through the directory watch.
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import { watchDir, type DirWatch } from '../policy/dir-watch.js';
import { emptyBook, type PinBook } from './book.js';
import { parsePinFile, renderPinFile } from './pin-file.js';
import type { Mutation, PinBackend } from './store.js';

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

export class FilePinBackend implements PinBackend {
  readonly source = 'pin file';
  private watcher: DirWatch | undefined;

  constructor(
    readonly file: string,
    private readonly opts: { watch: boolean; log: Logger },
  ) {}

  get where(): string {
    return this.file;
  }

  load(): Promise<PinBook> {
    return loadPinFile(this.file);
  }

  async save(batch: readonly Mutation[]): Promise<PinBook> {
    const merged = batch.reduce((b, m) => m(b), await loadPinFile(this.file));
    await writePinFile(this.file, merged);
    return merged;
  }

  watch(changed: () => void): void {
    if (!this.opts.watch) return;
    const name = basename(this.file);
    try {
      this.watcher = watchDir(dirname(this.file), (n) => n === name, changed);
    } catch (err) {
      this.opts.log.warn(
        { err: (err as Error).message, file: this.file },
        'cannot watch the pin file; approvals apply on SIGHUP or from the admin page',
      );
    }
  }

  async close(): Promise<void> {
    this.watcher?.close();
  }
}

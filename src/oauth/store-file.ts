// The file behind the OAuth file store (auth.oauth.store: file): read at start, rewritten after each
// change. It holds refresh tokens, client secrets and signing keys, so it is kept to its owner (0600)
// and never written through a path someone else could have prepared; separate so store.ts keeps to
// the store's operations.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import type { Logger } from 'pino';

/** Bits that let anyone but the owner read or write the file. */
const NOT_OWNER = 0o077;

/**
 * The file's text, or undefined when there is none yet. A file others may read (written by an older
 * version, copied in, made under a loose umask) is set to 0600 first, with a warning: until the next
 * change rewrote it, it would otherwise stay readable while it holds refresh tokens and secrets.
 */
export function readStoreFile(file: string, log?: Pick<Logger, 'warn'>): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // Anything else (unreadable, a folder) is not "no state yet": starting empty would overwrite it.
    throw err;
  }
  try {
    const mode = fstatSync(fd).mode & 0o777;
    if ((mode & NOT_OWNER) !== 0) {
      try {
        fchmodSync(fd, 0o600);
        log?.warn({ file, mode: mode.toString(8) }, 'oauth: the store file was readable by others; set to 0600');
      } catch (err) {
        log?.warn(
          { file, mode: mode.toString(8), err },
          'oauth: the store file is readable by others and could not be set to 0600',
        );
      }
    }
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Create-only, never through a symlink: a file or link planted at the name makes the open fail. */
const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Replaces the file's content at once: written to a temporary file of its own (a random name in the
 * same folder, created new with mode 0600), then renamed over the file. A fixed temporary name
 * could be prepared by someone else (a symlink sending the secrets elsewhere, a readable file kept
 * as the store) or shared by two writers, each renaming the other's half-written text into place.
 */
export function writeStoreFile(file: string, text: string): void {
  const tmp = `${file}.${randomBytes(8).toString('hex')}.tmp`;
  const fd = openSync(tmp, CREATE_NEW, 0o600);
  try {
    try {
      const bytes = Buffer.from(text, 'utf8');
      for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

// `tollgate check`: the files `tollgate serve` will write must be writable by this user. Their defaults
// sit beside the config file (audit.file, auth.oauth.file) or in the policies folder (pins.file), which
// a container mounts read-only: without this, check said OK and serve then stopped (audit) or lost
// every pin at the next restart (pins) or answered every OAuth sign-in with a 500 (OAuth store), said
// only in a log line.
import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RuntimeConfig } from '../config/runtime.js';
import { reasonOf } from './startup-error.js';

export interface WrittenFile {
  /** The config key that names the file. */
  key: string;
  path: string;
  /** serve refuses to start when it cannot write it (else it runs on with the state in memory). */
  fatal: boolean;
  /** What serve does when it cannot, for the message. */
  consequence: string;
}

/** What a gateway with this config writes to the filesystem. */
export function filesToWrite(config: RuntimeConfig): WrittenFile[] {
  const out: WrittenFile[] = [];
  if (config.audit.file !== undefined && !config.audit.stdout)
    out.push({
      key: 'audit.file (env TOLLGATE_AUDIT_FILE)',
      path: config.audit.file,
      fatal: true,
      consequence: 'serve would not start',
    });
  if (config.pins?.store === 'file')
    out.push({
      key: 'pins.file (env TOLLGATE_PINS_FILE)',
      path: config.pins.file,
      fatal: false,
      consequence: 'serve would keep new pins in memory only, lost at restart',
    });
  const oauth = config.auth.oauth;
  // Every OAuth write (a client registering, a grant) would fail: serve refuses to start instead.
  if (oauth?.store === 'file')
    out.push({ key: 'auth.oauth.file', path: oauth.file, fatal: true, consequence: 'serve would not start' });
  return out;
}

/**
 * Why this process cannot create or write `path`, or undefined when it can. A missing folder is
 * fine when the nearest existing one above it is writable (serve creates the rest).
 */
export function whyUnwritable(path: string): string | undefined {
  try {
    if (statSync(path).isDirectory()) return 'it is a folder';
    accessSync(path, constants.W_OK);
    accessSync(dirname(path), constants.W_OK | constants.X_OK); // the lock, the temp file, rotation
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') return `${(err as NodeJS.ErrnoException).path ?? path}: ${reasonOf(err)}`;
  }
  let dir = dirname(path);
  for (;;) {
    try {
      if (!statSync(dir).isDirectory()) return `${dir} is not a folder`;
      accessSync(dir, constants.W_OK | constants.X_OK);
      return undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' || dirname(dir) === dir) return `${dir}: ${reasonOf(err)}`;
    }
    dir = dirname(dir);
  }
}

// A start-up failure an operator can fix: one line saying what is wrong and one hint, no stack.
import { join, relative } from 'node:path';

export class StartupError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'StartupError';
  }
}

/** What `tollgate serve` prints for it (main.ts exits 1). */
export const formatStartupError = (e: StartupError): string => `tollgate: ${e.message}\n  hint: ${e.hint}\n`;

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOENT: 'no such file or directory',
  EEXIST: 'a file of that name is in the way of a folder',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'it is a folder',
  ENOSPC: 'no space left on the device',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'this machine has no such address',
};

/** A system error's reason without its stack, e.g. "permission denied (EACCES)". */
export function reasonOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code && REASONS[code]) return `${REASONS[code]} (${code})`;
  return err instanceof Error ? err.message : String(err);
}

/** The file the quickstart runs, relative to where the operator stands. */
export function quickstartConfig(repoRoot: string): string {
  const file = join(repoRoot, 'examples', 'quickstart', 'tollgate.yaml');
  const near = relative(process.cwd(), file);
  return near.startsWith('..') ? file : near;
}

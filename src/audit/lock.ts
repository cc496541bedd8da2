// One writer per audit log. Two processes appending to one file (two gateways given the same
// audit.file by mistake) interleave two hash chains — the log reads as tampered from then on — and
// rotate it under each other: one renames the file, the other goes on writing into the renamed one
// (after its signed last line), where retention may delete it. So the writer holds `<file>.lock`
// (pid, host, the process's start) while it runs, and another process on the same host is refused.
//
// A lock whose holder is gone is taken over: kill -9 leaves one behind, and the restarted gateway must
// start. Gone: the pid is not running, or runs a process that started at another time (a reused pid;
// Linux /proc), or is our own pid (a container restarted as the same pid). A holder on another host
// cannot be checked (a pod recreated under a new name looks the same): its lock is taken over, said.
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';

interface Holder {
  pid: number;
  host: string;
  /** /proc/<pid>/stat start time (clock ticks since boot), null where there is no /proc. */
  start: string | null;
}

/** The audit log is being written by another live process: the gateway does not start. */
export class AuditLogInUseError extends Error {}

function startOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm) ": the 3rd onwards; the start time is the 22nd.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function running(h: Holder, me: Holder): boolean {
  if (h.host !== me.host || h.pid === me.pid) return false;
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
  const start = startOf(h.pid);
  return h.start === null || start === null || start === h.start;
}

function holderOf(file: string): Holder | undefined {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as Partial<Holder>;
    return typeof h.pid === 'number' && typeof h.host === 'string'
      ? { pid: h.pid, host: h.host, start: typeof h.start === 'string' ? h.start : null }
      : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the lock of the audit log at `path`; returns its release. Throws AuditLogInUseError. */
export function lockAuditLog(path: string, onError: (err: Error) => void): () => void {
  const file = `${path}.lock`;
  const me: Holder = { pid: process.pid, host: hostname(), start: startOf(process.pid) };
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, `${JSON.stringify(me)}\n`, { flag: 'wx', mode: 0o640 });
      return () => {
        const h = holderOf(file);
        if (h && h.pid === me.pid && h.host === me.host && h.start === me.start) unlinkSync(file);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const held = holderOf(file);
    if ((held && running(held, me)) || attempt > 0)
      throw new AuditLogInUseError(
        `${path} is being written by another process${held ? ` (pid ${held.pid})` : ''}: one writer per audit log — two would interleave and break its hash chain. Give each gateway its own audit.file; if no such process runs, remove ${file}`,
      );
    if (held && held.host !== me.host)
      onError(
        new Error(
          `${file}: took over the lock of pid ${held.pid} on host ${held.host} (it cannot be checked from here)`,
        ),
      );
    try {
      unlinkSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

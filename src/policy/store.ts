// The policy set in force, and its hot reload: a file change (watched), SIGHUP or an admin call
// loads the directory again; a set that fails validation is logged and the old one stays.
import type { Logger } from 'pino';
import { ConfigError } from '../config/yaml.js';
import { PolicySet } from './policy-set.js';
import { watchDir, type DirWatch } from './dir-watch.js';

export interface PolicyStoreOptions {
  /** undefined: no policies configured (everything allowed). */
  dir: string | undefined;
  watch: boolean;
  log: Logger;
  env: Readonly<Record<string, string | undefined>>;
}

export class PolicyStore {
  private set: PolicySet;
  private watcher: DirWatch | undefined;
  private readonly listeners: ((prev: PolicySet, next: PolicySet) => void)[] = [];

  constructor(private readonly opts: PolicyStoreOptions) {
    this.set = opts.dir ? PolicySet.load(opts.dir, opts.env) : PolicySet.allowAll();
    if (!opts.dir) opts.log.warn('no policies configured: every authenticated agent may see and call every tool');
    if (opts.dir && opts.watch) {
      // Only policy files: other files may live here (the pin file), and they reload themselves.
      this.watcher = watchDir(
        opts.dir,
        (name) => /\.ya?ml$/.test(name),
        () => this.reload('file change'),
      );
    }
  }

  current(): PolicySet {
    return this.set;
  }

  onChange(listener: (prev: PolicySet, next: PolicySet) => void): void {
    this.listeners.push(listener);
  }

  /** Loads the directory again. Returns the problems when the new files are invalid. */
  reload(reason: string): { ok: true } | { ok: false; problems: string[] } {
    if (!this.opts.dir) return { ok: true };
    let next: PolicySet;
    try {
      next = PolicySet.load(this.opts.dir, this.opts.env);
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
      this.opts.log.error({ reason, problems }, 'policy reload rejected; the previous policies stay in force');
      return { ok: false, problems };
    }
    const prev = this.set;
    this.set = next;
    this.opts.log.info({ reason, files: next.files.length }, 'policies reloaded');
    for (const l of this.listeners) l(prev, next);
    return { ok: true };
  }

  close(): void {
    this.watcher?.close();
  }
}

// Where the token vault keeps its (already encrypted) records: a local file (one instance, mode
// 0600, written atomically) or a Redis hash (shared by every instance). Also single-use markers,
// so a connection link or a callback `state` works once across all instances, and locks, so one
// instance at a time refreshes a user's token.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';

export interface VaultStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  /** Sets `key` only while it still holds `expected`: true when it did. */
  replace(key: string, expected: string, value: string): Promise<boolean>;
  /** true when there was something to delete. */
  delete(key: string): Promise<boolean>;
  /** Every record whose key starts with `prefix`. */
  list(prefix: string): Promise<[string, string][]>;
  /** true the first time `marker` is claimed within `ttlMs`, false after (replays). */
  claim(marker: string, ttlMs: number): Promise<boolean>;
  /**
   * Takes `name` for at most `ttlMs` across the instances sharing this store: the release, or
   * undefined while another holds it. A file vault serves one instance: always granted (the callers
   * are single-flight within an instance).
   */
  lock(name: string, ttlMs: number): Promise<(() => Promise<void>) | undefined>;
  close(): Promise<void>;
}

const NO_LOCK = async (): Promise<void> => undefined;
/** Deletes the lock only while it is still ours (it may have expired and been taken by another). */
const UNLOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
const REPLACE =
  "if redis.call('hget', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('hset', KEYS[1], ARGV[1], ARGV[3]) return 1 else return 0 end";

/** Markers kept in memory (a file vault serves one instance). Bounded: expired ones are swept. */
class Markers {
  private readonly seen = new Map<string, number>();
  claim(marker: string, ttlMs: number): boolean {
    const now = Date.now();
    if (this.seen.size > 10_000) for (const [k, until] of this.seen) if (until <= now) this.seen.delete(k);
    const until = this.seen.get(marker);
    if (until !== undefined && until > now) return false;
    this.seen.set(marker, now + ttlMs);
    return true;
  }
}

export class FileVaultStore implements VaultStore {
  private readonly records: Map<string, string>;
  private readonly markers = new Markers();

  constructor(private readonly path: string) {
    this.records = new Map();
    if (existsSync(path)) {
      const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
        for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') this.records.set(k, v);
      chmodSync(path, 0o600);
    }
  }

  private persist(): void {
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.records)), { mode: 0o600 });
    renameSync(tmp, this.path);
  }

  async get(key: string): Promise<string | undefined> {
    return this.records.get(key);
  }
  async set(key: string, value: string): Promise<void> {
    this.records.set(key, value);
    this.persist();
  }
  async replace(key: string, expected: string, value: string): Promise<boolean> {
    if (this.records.get(key) !== expected) return false;
    this.records.set(key, value);
    this.persist();
    return true;
  }
  async delete(key: string): Promise<boolean> {
    const had = this.records.delete(key);
    if (had) this.persist();
    return had;
  }
  async list(prefix: string): Promise<[string, string][]> {
    return [...this.records].filter(([k]) => k.startsWith(prefix));
  }
  async claim(marker: string, ttlMs: number): Promise<boolean> {
    return this.markers.claim(marker, ttlMs);
  }
  async lock(): Promise<() => Promise<void>> {
    return NO_LOCK;
  }
  async close(): Promise<void> {}
}

export class RedisVaultStore implements VaultStore {
  private readonly hash: string;
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
  ) {
    this.hash = `${prefix}vault`;
  }
  async get(key: string): Promise<string | undefined> {
    return (await this.redis.hget(this.hash, key)) ?? undefined;
  }
  async set(key: string, value: string): Promise<void> {
    await this.redis.hset(this.hash, key, value);
  }
  async replace(key: string, expected: string, value: string): Promise<boolean> {
    return (await this.redis.eval(REPLACE, 1, this.hash, key, expected, value)) === 1;
  }
  async delete(key: string): Promise<boolean> {
    return (await this.redis.hdel(this.hash, key)) > 0;
  }
  async list(prefix: string): Promise<[string, string][]> {
    const out: [string, string][] = [];
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.hash, cursor, 'COUNT', 500);
      cursor = next;
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const k = flat[i] as string;
        if (k.startsWith(prefix)) out.push([k, flat[i + 1] as string]);
      }
    } while (cursor !== '0');
    return out;
  }
  async claim(marker: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(`${this.prefix}vault-once:${marker}`, '1', 'PX', Math.max(ttlMs, 1), 'NX')) === 'OK';
  }
  async lock(name: string, ttlMs: number): Promise<(() => Promise<void>) | undefined> {
    const key = `${this.prefix}vault-lock:${name}`;
    const mine = randomBytes(16).toString('base64url');
    if ((await this.redis.set(key, mine, 'PX', Math.max(ttlMs, 1), 'NX')) !== 'OK') return undefined;
    return async () => {
      await this.redis.eval(UNLOCK, 1, key, mine);
    };
  }
  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

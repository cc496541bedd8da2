// Where the authorization server keeps its state: clients, pending logins, codes, grants, refresh
// tokens, consents, login sessions, signing keys. One small interface; in memory (optionally
// persisted to a file) for one instance, in Redis when instances share it, so any instance serves
// any step of a login.
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { readStoreFile, writeStoreFile } from './store-file.js';

export interface OAuthStore {
  get<T>(key: string): Promise<T | undefined>;
  /** `ttlMs` undefined: kept until deleted. */
  set(key: string, value: unknown, ttlMs?: number): Promise<void>;
  /** Stores only when the key is absent; true when it did (first writer wins). */
  setIfAbsent(key: string, value: unknown, ttlMs?: number): Promise<boolean>;
  /** Reads and deletes in one step: a one-time value (a code) is taken by exactly one caller. */
  take<T>(key: string): Promise<T | undefined>;
  del(key: string): Promise<void>;
  /** Adds `by` (default 1) to a counter that expires `ttlMs` after its first increment; the new count. */
  incr(key: string, ttlMs: number, by?: number): Promise<number>;
  /** Every live entry whose key starts with `prefix` (admin listings; bounded by `max`). */
  list<T>(prefix: string, max?: number): Promise<{ key: string; value: T }[]>;
  close(): Promise<void>;
}

interface Entry {
  value: unknown;
  until: number | undefined;
  /** Lives under an hour (pending logins, codes, upstream login states, caches): never written to the file. */
  volatile?: boolean;
}

/**
 * Entries shorter-lived than this stay in memory only. Anyone can make them (opening /authorize) and
 * a restart losing them costs a login at most, while writing them would rewrite the whole file on
 * every such request.
 */
const PERSIST_MIN_TTL_MS = 3600_000;

/** How often the memory store drops expired entries that nobody read again. */
const SWEEP_EVERY_MS = 60_000;

/**
 * In memory; with `file`, entries are written there after each change and read back at start (kept
 * 0600, written through a fresh temporary file: store-file.ts).
 */
export class MemoryOAuthStore implements OAuthStore {
  readonly #entries = new Map<string, Entry>();
  #nextSweep = 0;
  constructor(
    private readonly file?: string,
    private readonly now: () => number = Date.now,
    log?: Pick<Logger, 'warn'>,
  ) {
    if (!file) return;
    const text = readStoreFile(file, log);
    if (text === undefined) return; // no file yet
    const saved = JSON.parse(text) as Record<string, Entry>;
    for (const [k, e] of Object.entries(saved)) this.#entries.set(k, e);
  }

  #live(key: string): Entry | undefined {
    const e = this.#entries.get(key);
    if (e && e.until !== undefined && this.now() >= e.until) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }

  /**
   * Drops every expired entry, at most once a minute: an entry is otherwise dropped only when read,
   * and most never are again (abandoned logins, spent codes and refresh tokens, failure counters), so
   * memory would grow with every request ever made.
   */
  #sweep(): void {
    const now = this.now();
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + SWEEP_EVERY_MS;
    for (const [k, e] of this.#entries) if (e.until !== undefined && now >= e.until) this.#entries.delete(k);
  }

  /** Entries held, expired ones not yet dropped included. */
  get size(): number {
    return this.#entries.size;
  }

  #save(): void {
    if (!this.file) return;
    const out: Record<string, Entry> = {};
    for (const [k, e] of this.#entries)
      if (!e.volatile && (e.until === undefined || e.until > this.now())) out[k] = { value: e.value, until: e.until };
    writeStoreFile(this.file, JSON.stringify(out));
  }

  async get<T>(key: string): Promise<T | undefined> {
    return this.#live(key)?.value as T | undefined;
  }
  async set(key: string, value: unknown, ttlMs?: number): Promise<void> {
    this.#sweep();
    const volatile = ttlMs !== undefined && ttlMs < PERSIST_MIN_TTL_MS;
    const replaced = this.#entries.get(key);
    this.#entries.set(key, {
      value: structuredClone(value),
      until: ttlMs === undefined ? undefined : this.now() + ttlMs,
      ...(volatile ? { volatile } : {}),
    });
    if (!volatile || (replaced && !replaced.volatile)) this.#save();
  }
  async setIfAbsent(key: string, value: unknown, ttlMs?: number): Promise<boolean> {
    if (this.#live(key)) return false;
    await this.set(key, value, ttlMs);
    return true;
  }
  async take<T>(key: string): Promise<T | undefined> {
    const e = this.#live(key);
    if (!e) return undefined;
    this.#entries.delete(key);
    if (!e.volatile) this.#save();
    return e.value as T;
  }
  async del(key: string): Promise<void> {
    const e = this.#entries.get(key);
    if (this.#entries.delete(key) && !e?.volatile) this.#save();
  }
  async incr(key: string, ttlMs: number, by = 1): Promise<number> {
    this.#sweep();
    const e = this.#live(key);
    const n = (typeof e?.value === 'number' ? e.value : 0) + by;
    // Written with the next change, as other entries: short-lived counters never (login failures,
    // pending logins), the registered-clients count (a year) yes.
    const volatile = ttlMs < PERSIST_MIN_TTL_MS;
    this.#entries.set(key, { value: n, until: e?.until ?? this.now() + ttlMs, ...(volatile ? { volatile } : {}) });
    return n;
  }
  async list<T>(prefix: string, max = 1000): Promise<{ key: string; value: T }[]> {
    const out: { key: string; value: T }[] = [];
    for (const k of [...this.#entries.keys()]) {
      if (out.length >= max) break;
      const e = k.startsWith(prefix) ? this.#live(k) : undefined;
      if (e) out.push({ key: k, value: e.value as T });
    }
    return out;
  }
  async close(): Promise<void> {}
}

// Scripts rather than GETDEL (Redis 6.2) and PEXPIRE NX (Redis 7): on an older server those fail
// quietly inside MULTI, and counters such as login failures and pending logins never expired.
/** Get and delete in one step (a code is redeemed once). */
const TAKE = "local v = redis.call('GET', KEYS[1]); if v then redis.call('DEL', KEYS[1]) end; return v";
/** Add, and start the window's expiry when the counter has none. */
const INCR =
  "local n = redis.call('INCRBY', KEYS[1], ARGV[1]); if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end; return n";

/** In Redis under `prefix` (JSON values; codes taken with a script: get and delete at once). */
export class RedisOAuthStore implements OAuthStore {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
  ) {}

  async get<T>(key: string): Promise<T | undefined> {
    const v = await this.redis.get(this.prefix + key);
    return v === null ? undefined : (JSON.parse(v) as T);
  }
  async set(key: string, value: unknown, ttlMs?: number): Promise<void> {
    const k = this.prefix + key;
    if (ttlMs === undefined) await this.redis.set(k, JSON.stringify(value));
    else await this.redis.set(k, JSON.stringify(value), 'PX', Math.max(1, Math.ceil(ttlMs)));
  }
  async setIfAbsent(key: string, value: unknown, ttlMs?: number): Promise<boolean> {
    const k = this.prefix + key;
    const r =
      ttlMs === undefined
        ? await this.redis.set(k, JSON.stringify(value), 'NX')
        : await this.redis.set(k, JSON.stringify(value), 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
    return r === 'OK';
  }
  async take<T>(key: string): Promise<T | undefined> {
    const v = (await this.redis.eval(TAKE, 1, this.prefix + key)) as string | null;
    return v === null ? undefined : (JSON.parse(v) as T);
  }
  async del(key: string): Promise<void> {
    await this.redis.del(this.prefix + key);
  }
  async incr(key: string, ttlMs: number, by = 1): Promise<number> {
    return Number(await this.redis.eval(INCR, 1, this.prefix + key, by, Math.max(1, Math.ceil(ttlMs))));
  }
  async list<T>(prefix: string, max = 1000): Promise<{ key: string; value: T }[]> {
    const out: { key: string; value: T }[] = [];
    const nodes = 'nodes' in this.redis ? this.redis.nodes('master') : [this.redis];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${this.prefix}${prefix}*`, 'COUNT', 200);
        cursor = next;
        for (const k of keys) {
          if (out.length >= max) return out;
          const v = await this.redis.get(k);
          if (v !== null) out.push({ key: k.slice(this.prefix.length), value: JSON.parse(v) as T });
        }
      } while (cursor !== '0');
    }
    return out;
  }
  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

// Pins in Redis (`pins.store: redis`), shared by every gateway instance and the CLI: one hash,
// `<prefix>pins`, holding the book (the pin file's JSON) and a version. A save is read, apply,
// compare-and-set on the version (retried when another instance saved first), then a publish on
// `<prefix>pins` so the other instances read the new book at once. An instance that missed messages
// (disconnected) reads the book again when its subscription is back.
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { PinBook } from './book.js';
import { parsePinFile, renderPinFile } from './pin-file.js';
import type { Mutation, PinBackend } from './store.js';

type Client = Redis | Cluster;

/** Sets the book when the version is still the one read (one key: fine on Redis Cluster). */
const CAS = `
local v = redis.call('HGET', KEYS[1], 'v') or '0'
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'book', ARGV[3])
return 1`;

/** Saves racing with other instances' saves: each lost race re-reads and applies the batch again. */
const MAX_ATTEMPTS = 20;

export interface RedisPinBackendOptions {
  /** Commands (read, compare-and-set, publish). */
  client: Client;
  /** A second connection for the subscription (a subscribed connection can run nothing else); none in the CLI. */
  subscriber?: Client | undefined;
  prefix: string;
  log: Logger;
}

export class RedisPinBackend implements PinBackend {
  readonly source = 'pin store';
  readonly key: string;
  /** Tells our own announcements apart when they come back. */
  private readonly from = randomBytes(6).toString('base64url');

  constructor(private readonly opts: RedisPinBackendOptions) {
    this.key = `${opts.prefix}pins`;
    // Failed commands report themselves (a save logs, a start waits); connection errors only here.
    for (const c of [opts.client, opts.subscriber])
      c?.on('error', (err: Error) => opts.log.debug({ err: err.message }, 'pins: Redis connection error'));
  }

  get where(): string {
    return `Redis key ${this.key}`;
  }

  async load(): Promise<PinBook> {
    return (await this.read()).book;
  }

  async save(batch: readonly Mutation[]): Promise<PinBook> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const { version, book, text } = await this.read();
      const merged = batch.reduce((b, m) => m(b), book);
      const rendered = renderPinFile(merged);
      if (rendered === text) return merged; // already there (another instance saw the same)
      const next = String(Number(version) + 1);
      const set = await this.opts.client.eval(CAS, 1, this.key, version, next, rendered);
      if (set === 1) {
        await this.opts.client.publish(this.key, `${this.from} ${next}`);
        return merged;
      }
    }
    throw new Error(`pins in ${this.key} changed ${MAX_ATTEMPTS} times while saving`);
  }

  watch(changed: () => void): void {
    const sub = this.opts.subscriber;
    if (!sub) return;
    sub.on('message', (channel: string, text: string) => {
      if (channel === this.key && !text.startsWith(`${this.from} `)) changed();
    });
    // Also on every (re)connection: messages sent while we were away are lost, the book is not.
    sub.on('ready', changed);
    sub
      .subscribe(this.key)
      .catch((err: Error) => this.opts.log.warn({ err: err.message }, 'pins: subscribe failed (retried on reconnect)'));
  }

  async close(): Promise<void> {
    const clients = [this.opts.client, this.opts.subscriber].filter((c): c is Client => c !== undefined);
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
  }

  private async read(): Promise<{ version: string; book: PinBook; text: string | null }> {
    const [version, text] = await this.opts.client.hmget(this.key, 'v', 'book');
    return { version: version ?? '0', book: parsePinFile(text ?? '', this.where), text: text ?? null };
  }
}

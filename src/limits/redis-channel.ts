// One Redis pub/sub channel between gateway instances (the session bus, users' revocations): JSON
// messages tagged with the sender, so an instance never hears its own. Whoever can publish on that
// Redis can put anything there (an older or newer instance, a hostile client), so what arrives is
// size-checked before it is parsed, read by the caller's `parse`, and dropped when it is not a
// message: never thrown, and nothing is kept per message. Messages sent while an instance is
// disconnected are lost to it (ioredis subscribes again on reconnection; `resubscribed` is told).
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';

type Client = Redis | Cluster;

export interface RedisChannelOptions<M> {
  /** Commands (publish). */
  pub: Client;
  /** A connection of its own for the subscription (a subscribed connection can run nothing else). */
  sub: Client;
  /** The channel, under the configured key prefix. */
  name: string;
  log: Logger;
  /** What the channel carries, for log lines ("session bus"). */
  what: string;
  /** Another instance's message, or undefined when `v` is not one. */
  parse(v: Record<string, unknown>): M | undefined;
  deliver(m: M): void;
  /** Longer texts are dropped unread (default: no bound, for messages as large as what they relay). */
  maxBytes?: number;
  /** The subscription is back after a disconnection: what was published meanwhile was missed. */
  resubscribed?(): void;
}

export class RedisChannel<M extends object> {
  /** Tells our own messages apart when they come back. */
  private readonly from = randomBytes(6).toString('base64url');
  /** Settles once the first subscription is in place (or failed: it is made again on reconnection). */
  readonly subscribed: Promise<void>;

  constructor(private readonly o: RedisChannelOptions<M>) {
    o.sub.on('message', (channel: string, text: string) => {
      if (channel !== o.name) return;
      const m = this.read(text);
      if (!m) return;
      try {
        o.deliver(m);
      } catch (err) {
        // Thrown here it would reach ioredis's reply parser: one bad delivery must not end the process.
        o.log.warn({ err: (err as Error).message }, `${o.what}: a message could not be applied`);
      }
    });
    let ready = 0;
    o.sub.on('ready', () => {
      if (++ready > 1) o.resubscribed?.();
    });
    this.subscribed = o.sub.subscribe(o.name).then(
      () => undefined,
      (err: Error) => o.log.warn({ err: err.message }, `${o.what}: subscribe failed (retried on reconnect)`),
    );
  }

  publish(m: M): void {
    this.o.pub
      .publish(this.o.name, JSON.stringify({ ...m, f: this.from }))
      .catch((err: Error) => this.o.log.warn({ err: err.message }, `${this.o.what}: publish failed`));
  }

  private read(text: string): M | undefined {
    if (this.o.maxBytes !== undefined && Buffer.byteLength(text) > this.o.maxBytes) return undefined;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    const r = v as Record<string, unknown>;
    return r.f === this.from ? undefined : this.o.parse(r);
  }
}

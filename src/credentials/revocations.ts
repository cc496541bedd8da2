// A user's revocation told to every gateway instance sharing the Redis vault (`credentials.vault.store:
// redis`): each ends the upstream sessions it holds for that user and upstream, as the instance that
// served the revocation does (per_agent's, per_session's, their GET streams). Without it, an upstream
// session another instance had opened with the revoked token went on relaying that account to the
// agent until it ended or idled out. One pub/sub channel under the key prefix, as the session bus.
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RedisChannel } from '../limits/redis-channel.js';

export interface Revocation {
  upstream: string;
  agent: string;
}

/** Upstream names and agent ids are short; anything longer on the channel is not ours. */
const MAX_BYTES = 4096;

export interface RevocationChannelOptions {
  /** The vault's own client (publishes). */
  pub: Redis | Cluster;
  /** A connection of its own for the subscription, closed with the channel. */
  sub: Redis | Cluster;
  prefix: string;
  log: Logger;
  /** Another instance served a revocation. */
  revoked(r: Revocation): void;
  /** Back after a disconnection: revocations published meanwhile were missed. */
  resubscribed(): void;
}

export class RevocationChannel {
  private readonly channel: RedisChannel<{ u: string; a: string }>;

  constructor(private readonly o: RevocationChannelOptions) {
    this.channel = new RedisChannel({
      pub: o.pub,
      sub: o.sub,
      name: `${o.prefix}credentials-revoked`,
      log: o.log,
      what: 'credential revocations',
      maxBytes: MAX_BYTES,
      parse: (v) => (typeof v.u === 'string' && typeof v.a === 'string' && v.u !== '' ? { u: v.u, a: v.a } : undefined),
      deliver: (m) => o.revoked({ upstream: m.u, agent: m.a }),
      resubscribed: () => o.resubscribed(),
    });
    o.sub.on('error', (err: Error) =>
      o.log.debug({ err: err.message }, 'credential revocations: Redis connection error'),
    );
  }

  /** Settles once this instance hears revocations (or the first subscription failed; retried). */
  get subscribed(): Promise<void> {
    return this.channel.subscribed;
  }

  publish(r: Revocation): void {
    this.channel.publish({ u: r.upstream, a: r.agent });
  }

  async close(): Promise<void> {
    this.o.sub.disconnect();
  }
}

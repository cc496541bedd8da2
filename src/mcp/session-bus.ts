// What gateway instances tell each other about agent sessions when a load balancer spreads one
// session's requests over several of them: a server-to-client message for a session whose GET stream
// another instance holds, an agent's answer to a server request another instance made, a
// cancellation of a call running elsewhere, a session ended (DELETE) somewhere. One Redis pub/sub
// channel, every instance subscribed: fine for a handful of instances (each message reaches each).
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RedisChannel } from '../limits/redis-channel.js';
import { isObject, validateMessage, type JsonRpcMessage, type JsonRpcResponse, type RequestId } from './jsonrpc.js';
import type { AgentSession } from './agent-session.js';
import type { SessionStore } from './session-store.js';

/** What a session changes after initialize: kept in Redis and told to the other instances. */
export interface SessionState {
  logLevel: number | undefined;
  subscriptions: string[];
}

export type BusMessage =
  | { t: 'notify'; s: string; m: JsonRpcMessage }
  | { t: 'state'; s: string; state: SessionState }
  | { t: 'response'; s: string; m: JsonRpcResponse }
  | { t: 'cancel'; s: string; id: RequestId }
  | { t: 'end'; s: string };

export interface SessionBus {
  publish(msg: BusMessage): void;
  /**
   * For an instance adopting a session: whether it was ended (DELETE) anywhere, and its state;
   * `unreachable` when Redis could not answer (the caller must not assume "not ended").
   */
  lookup(sessionId: string): Promise<{ ended: boolean; state: SessionState | undefined; unreachable?: boolean }>;
  /** A session's state changed: stored (for instances that adopt it later) and told to the others. */
  shareState(sessionId: string, state: SessionState, ttlMs: number): void;
  markEnded(sessionId: string, ttlMs: number): void;
  close(): Promise<void>;
}

type Client = Redis | Cluster;

export class RedisSessionBus implements SessionBus {
  private readonly channel: RedisChannel<BusMessage>;

  constructor(
    private readonly pub: Client,
    private readonly sub: Client,
    private readonly prefix: string,
    private readonly log: Logger,
    deliver: (msg: BusMessage) => void,
  ) {
    this.channel = new RedisChannel({ pub, sub, name: `${prefix}sessions`, log, what: 'session bus', parse, deliver });
  }

  publish(msg: BusMessage): void {
    this.channel.publish(msg);
  }

  private key(kind: 'ended' | 'state', sessionId: string): string {
    return `${this.prefix}${kind}:${createHash('sha256').update(sessionId).digest('base64url')}`;
  }

  async lookup(sessionId: string): Promise<{ ended: boolean; state: SessionState | undefined; unreachable?: boolean }> {
    try {
      const [ended, state] = await Promise.all([
        this.pub.exists(this.key('ended', sessionId)),
        this.pub.get(this.key('state', sessionId)),
      ]);
      return { ended: ended === 1, state: state ? stateOf(JSON.parse(state) as unknown) : undefined };
    } catch (err) {
      // Redis down: the seal proves the id genuine and this agent's, but not that it was never DELETEd.
      this.log.warn({ err: (err as Error).message }, 'session bus: cannot look the session up');
      return { ended: false, state: undefined, unreachable: true };
    }
  }

  shareState(sessionId: string, state: SessionState, ttlMs: number): void {
    this.pub
      .set(this.key('state', sessionId), JSON.stringify(state), 'PX', Math.max(ttlMs, 1))
      .catch((err: Error) => this.log.warn({ err: err.message }, 'session bus: cannot store session state'));
    this.publish({ t: 'state', s: sessionId, state });
  }

  markEnded(sessionId: string, ttlMs: number): void {
    this.pub
      .set(this.key('ended', sessionId), '1', 'PX', Math.max(ttlMs, 1))
      .catch((err: Error) => this.log.warn({ err: err.message }, 'session bus: cannot record an ended session'));
  }

  async close(): Promise<void> {
    this.sub.disconnect();
    await this.pub.quit().catch(() => this.pub.disconnect());
  }
}

/**
 * A message another instance had for a session: applied to this instance's copy, if it holds one
 * (`answer` relays an agent's answer to a server request this instance made).
 */
export function applyPeerMessage(
  m: BusMessage,
  sessions: SessionStore,
  answer: (s: AgentSession, r: JsonRpcResponse) => void,
): void {
  if (m.t === 'end') {
    sessions.end(m.s);
    return;
  }
  const s = sessions.peek(m.s);
  if (!s) return;
  if (m.t === 'notify') s.sendHere(m.m);
  else if (m.t === 'state') s.adoptState(m.state);
  else if (m.t === 'cancel') s.inFlight.get(m.id)?.cancel?.();
  else if (s.serverRequests.has(String(m.m.id))) answer(s, m.m);
}

function parse(v: Record<string, unknown>): BusMessage | undefined {
  if (typeof v.s !== 'string') return undefined;
  switch (v.t) {
    case 'notify':
    case 'response': {
      const m = validateMessage(v.m);
      if (typeof m === 'string') return undefined;
      if (v.t === 'notify') return { t: 'notify', s: v.s, m };
      return 'method' in m ? undefined : { t: 'response', s: v.s, m };
    }
    case 'cancel':
      return typeof v.id === 'string' || typeof v.id === 'number' ? { t: 'cancel', s: v.s, id: v.id } : undefined;
    case 'end':
      return { t: 'end', s: v.s };
    case 'state': {
      const state = stateOf(v.state);
      return state ? { t: 'state', s: v.s, state } : undefined;
    }
    default:
      return undefined;
  }
}

function stateOf(v: unknown): SessionState | undefined {
  if (!isObject(v) || !Array.isArray(v.subscriptions)) return undefined;
  return {
    logLevel: typeof v.logLevel === 'number' ? v.logLevel : undefined,
    subscriptions: v.subscriptions.filter((u): u is string => typeof u === 'string'),
  };
}

// Agent sessions this gateway instance holds, with idle expiry. Session ids are sealed (see
// session-seal.ts): an instance that has not seen a session adopts it from its id, after checking
// it is genuine, the caller's, for this endpoint, unexpired and not ended (DELETE) anywhere.
import type { ServerRequestLimits } from './agent-session.js';
import type { StreamBounds } from './stream-bounds.js';
import { AgentSession } from './agent-session.js';
import { keptClientInfo, sealedCapabilities } from './declarations.js';
import type { SessionBus } from './session-bus.js';
import type { SessionClaims, SessionSealer } from './session-seal.js';
import type { AgentIdentity } from '../auth/identity.js';
import { GatewayError } from '../errors.js';
import type { ConnectionCap, Slot } from './connection-cap.js';

const MAX_ENDED = 100_000;

export interface SessionStoreOptions {
  idleMs: number;
  maxAgeMs: number;
  replayEvents: number;
  /** How much each session's SSE streams may hold. */
  streamBounds?: StreamBounds | undefined;
  /** Upstream requests that may wait for each session's answer, and for how long. */
  serverRequestLimits?: ServerRequestLimits | undefined;
  sealer: SessionSealer;
  /** Other instances (Redis); undefined when this instance is the only one. */
  bus: SessionBus | undefined;
  /** Sessions held at once, per agent and in total (adopted ones count too). */
  cap: ConnectionCap;
  /** `everywhere`: ended by the agent (DELETE), not only dropped by this instance. */
  onEnd: (s: AgentSession, everywhere: boolean) => void;
}

/** What initialize learned; sealed into the id (with the agent and endpoint as claims). */
export interface NewSession
  extends Pick<SessionClaims, 'protocolVersion' | 'clientInfo' | 'capabilities' | 'placement'> {
  identity: AgentIdentity;
  viewKey: string;
}

export class SessionStore {
  private readonly sessions = new Map<string, AgentSession>();
  private readonly slots = new Map<string, Slot>();
  /** Ids ended here (DELETE or idle), until their seal would have expired anyway. */
  private readonly ended = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly opts: SessionStoreOptions) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(opts.idleMs, 60_000));
    this.sweeper.unref();
  }

  /** A new Streamable HTTP session with a sealed id (not yet added: initialize adds it). */
  create(n: NewSession): AgentSession {
    const createdAt = Date.now();
    // What the client declared is sealed reduced, so the id stays small whatever it sent.
    const id = this.opts.sealer.seal({
      agent: n.identity.id,
      view: n.viewKey,
      protocolVersion: n.protocolVersion,
      capabilities: sealedCapabilities(n.capabilities),
      clientInfo: keptClientInfo(n.clientInfo),
      createdAt,
      placement: n.placement,
    });
    const s = new AgentSession(
      n.identity,
      n.viewKey,
      n.protocolVersion,
      n.clientInfo,
      n.capabilities,
      this.opts.replayEvents,
      id,
      createdAt,
    );
    s.placement = n.placement;
    return this.wire(s);
  }

  private wire(s: AgentSession): AgentSession {
    s.bus = this.opts.bus;
    if (this.opts.streamBounds) s.streamBounds = this.opts.streamBounds;
    if (this.opts.serverRequestLimits) s.serverRequestLimits = this.opts.serverRequestLimits;
    return s;
  }

  /** Whether a new session for this agent would be refused now (checked before any work). */
  refusal(agentId: string): GatewayError | undefined {
    return this.opts.cap.refusal(agentId);
  }

  /** Holds a session; refused (nothing held) over the caps. */
  add(s: AgentSession): GatewayError | undefined {
    const slot = this.opts.cap.take(s.agentId);
    if (!('release' in slot)) return slot;
    this.sessions.set(s.id, s);
    this.slots.set(s.id, slot);
    return undefined;
  }

  /** This instance's copy, without adopting (for messages from other instances). */
  peek(id: string): AgentSession | undefined {
    return this.sessions.get(id);
  }

  /**
   * A session held here, synchronously (the hot path: no promise per request); null when it is not
   * held (adoption may apply: see resolve), undefined when it was held and has expired.
   */
  held(id: string): AgentSession | null | undefined {
    const held = this.sessions.get(id);
    if (!held) return null;
    // max_age holds on the instance that holds the session too, not only for adoption.
    if (this.expired(held)) {
      this.end(id);
      return undefined;
    }
    held.lastSeen = Date.now();
    return held;
  }

  /** The session for a caller: held here, or adopted from its sealed id (refused over the caps). */
  async resolve(
    id: string,
    identity: AgentIdentity,
    viewKey: string,
  ): Promise<AgentSession | GatewayError | undefined> {
    const held = this.held(id);
    if (held !== null) return held;
    const c = this.ended.has(id) ? undefined : this.opts.sealer.open(id);
    if (!c || c.agent !== identity.id || c.view !== viewKey) return undefined;
    const known = await this.opts.bus?.lookup(id);
    if (known?.ended) return undefined;
    // Shared sessions: a DELETE is remembered in Redis. While Redis cannot be asked, an ended
    // session cannot be told from a live one, so adoption waits (503) rather than guess.
    if (known?.unreachable)
      return new GatewayError(
        'over_capacity',
        'Service Unavailable: cannot confirm that this session was not ended (session store unreachable); retry shortly',
        { retryAfterSeconds: 1 },
      );
    const raced = this.sessions.get(id);
    if (raced) return raced;
    const s = this.wire(
      new AgentSession(
        identity,
        c.view,
        c.protocolVersion,
        c.clientInfo,
        c.capabilities,
        this.opts.replayEvents,
        id,
        c.createdAt,
      ),
    );
    s.initialized = true;
    s.placement = c.placement;
    if (known?.state) s.adoptState(known.state);
    return this.add(s) ?? s;
  }

  get size(): number {
    return this.sessions.size;
  }

  all(): IterableIterator<AgentSession> {
    return this.sessions.values();
  }

  /** Ends a session here; `everywhere` (DELETE) also ends it on every instance. */
  end(id: string, everywhere = false): boolean {
    this.forget(id);
    if (everywhere && this.opts.bus) {
      this.opts.bus.markEnded(id, this.opts.maxAgeMs);
      this.opts.bus.publish({ t: 'end', s: id });
    }
    const s = this.sessions.get(id);
    if (!s) return false;
    this.sessions.delete(id);
    this.slots.get(id)?.release();
    this.slots.delete(id);
    s.close();
    this.opts.onEnd(s, everywhere);
    return true;
  }

  private forget(id: string): void {
    this.ended.set(id, Date.now() + this.opts.maxAgeMs);
    // Bounded: past this many, the oldest entries go (Redis still knows ids ended by DELETE).
    if (this.ended.size > MAX_ENDED) this.ended.delete(this.ended.keys().next().value as string);
  }

  private expired(s: AgentSession, now = Date.now()): boolean {
    return now - s.createdAt > this.opts.maxAgeMs;
  }

  private sweep(): void {
    const now = Date.now();
    const cutoff = now - this.opts.idleMs;
    for (const s of this.sessions.values()) {
      if ((s.lastSeen < cutoff && !s.hasStandaloneListener && s.inFlight.size === 0) || this.expired(s, now))
        this.end(s.id);
    }
    for (const [id, until] of this.ended) if (until < now) this.ended.delete(id);
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const id of [...this.sessions.keys()]) this.end(id);
  }
}

// Opening the upstream sessions that belong to one agent or agent session (per_agent, per_session):
// a fresh handshake, a session opened ahead of its agent session's id (prepared at initialize so its
// id can be sealed into the agent's), or one another gateway instance opened (adopted by its id).
import type { JsonRpcMessage } from '../mcp/jsonrpc.js';
import { GatewayError } from '../errors.js';
import type { Replica } from './replica.js';
import { UpstreamSession, type InitializeOutcome, type SessionHooks } from './session.js';

/** Who an own session's unsolicited messages belong to. */
export interface Origin {
  agentSessionId: string | undefined;
  agentId: string;
}

export interface OwnSessionsDeps {
  upstream: string;
  clientInfo: { name: string; version: string };
  connectMs: number;
  sessionHooks: SessionHooks;
  /** The upstream's handshake outcome (from its catalog replica), for adopted sessions. */
  init(): InitializeOutcome | undefined;
  unrelated(msg: JsonRpcMessage, origin: Origin & { session: UpstreamSession }): void;
  closed(session: UpstreamSession, origin: Origin): void;
  opened(session: UpstreamSession, replica: Replica): void;
}

/** A prepared session unclaimed this long (its initialize failed afterwards) is closed. */
const PREPARED_TTL_MS = 60_000;

interface Prepared {
  session: UpstreamSession;
  origin: Origin;
  timer: NodeJS.Timeout;
}

export class OwnSessions {
  private readonly prepared = new Map<string, Prepared>();

  constructor(private readonly deps: OwnSessionsDeps) {}

  private make(r: Replica, origin: Origin): UpstreamSession {
    const session: UpstreamSession = new UpstreamSession(
      r.newChannel(origin.agentId),
      {
        unrelated: (msg) => this.deps.unrelated(msg, { session, ...origin }),
        closed: () => this.deps.closed(session, origin),
      },
      this.deps.sessionHooks,
    );
    this.deps.opened(session, r);
    return session;
  }

  /** A new upstream session with the agent's own capabilities. */
  async open(r: Replica, origin: Origin, caps: Record<string, unknown>): Promise<UpstreamSession> {
    const session = this.make(r, origin);
    try {
      await session.start({
        clientInfo: this.deps.clientInfo,
        capabilities: caps,
        timeoutMs: this.deps.connectMs,
        protocol: r.protocol,
        watchLists: false,
      });
      return session;
    } catch (err) {
      await session.close().catch(() => undefined);
      // Per-user credentials missing or refused: the agent gets that answer (and its link) as it is.
      if (err instanceof GatewayError && (err.kind === 'authorization_required' || err.kind === 'forbidden')) throw err;
      throw new GatewayError('upstream_unavailable', `upstream ${this.deps.upstream}: ${(err as Error).message}`);
    }
  }

  /** Opens a session before its agent session has an id; returns the upstream's session id. */
  async prepare(r: Replica, agentId: string, caps: Record<string, unknown>): Promise<string | undefined> {
    const origin: Origin = { agentSessionId: undefined, agentId };
    const session = await this.open(r, origin, caps).catch(() => undefined);
    const id = session?.upstreamSessionId;
    if (!session || !id) {
      void session?.close();
      return undefined;
    }
    const timer = setTimeout(() => {
      this.prepared.delete(id);
      void session.close();
    }, PREPARED_TTL_MS);
    timer.unref();
    this.prepared.set(id, { session, origin, timer });
    return id;
  }

  /** The session named in an agent's sealed id: prepared here, or adopted from another instance. */
  async claim(r: Replica, upstreamSessionId: string, origin: Origin): Promise<UpstreamSession> {
    const p = this.prepared.get(upstreamSessionId);
    if (p) {
      this.prepared.delete(upstreamSessionId);
      clearTimeout(p.timer);
      p.origin.agentSessionId = origin.agentSessionId;
      return p.session;
    }
    const init = this.deps.init();
    if (!init) throw new GatewayError('upstream_unavailable', `upstream ${this.deps.upstream} is not ready`);
    const session = this.make(r, origin);
    await session.adopt(init, upstreamSessionId);
    return session;
  }

  close(): void {
    for (const p of this.prepared.values()) {
      clearTimeout(p.timer);
      void p.session.close();
    }
    this.prepared.clear();
  }
}

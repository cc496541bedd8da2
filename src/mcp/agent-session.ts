// A 2025-era agent session: who it is, what it declared at initialize, and the server-to-client
// plumbing (standalone stream, requests we forwarded and await answers to). 2026-era requests have
// no session: everything the relay needs per request travels in a RequestScope instead.
import { randomBytes } from 'node:crypto';
import type { JsonRpcMessage, RequestId } from './jsonrpc.js';
import { EventStream } from './event-stream.js';
import { DEFAULT_STREAM_BOUNDS, type StreamBounds } from './stream-bounds.js';
import { errorMessage } from './jsonrpc.js';
import { TollgateCode } from '../errors.js';
import type { SessionBus, SessionState } from './session-bus.js';
import type { Placement } from '../upstream/upstream.js';
import type { Cancellation, UpstreamSession } from '../upstream/session.js';
import type { AgentIdentity } from '../auth/identity.js';
import { sha256Hex } from '../sha256.js';

export interface ForwardedServerRequest {
  /** Where the agent's answer goes: the upstream session that asked, or a bridged input round. */
  upstreamSession: Pick<UpstreamSession, 'respond'>;
  upstreamRequestId: RequestId;
  /** For the audit record of the agent's answer. */
  method: string;
  upstream: string;
  /** Relays the agent's progress on this request to the upstream that asked (under its own token). */
  progress?: (update: { progress: number; total?: number; message?: string }) => void;
  /** Set for requests an upstream made: answered with a timeout error when it fires. */
  expiry?: NodeJS.Timeout;
}

/** How many upstream requests may wait for one agent session's answer, and for how long. */
export interface ServerRequestLimits {
  maxPerSession: number;
  timeoutMs: number;
}

export const DEFAULT_SERVER_REQUEST_LIMITS: ServerRequestLimits = { maxPerSession: 64, timeoutMs: 10 * 60_000 };

/** An agent request in flight upstream; `cancel` is set while it can still be cancelled. */
export type InFlight = Cancellation;

export const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;

/**
 * Names this process in stream and server-request ids, so ids made by two gateway instances for one
 * session never collide.
 */
const INSTANCE_TAG = randomBytes(3).toString('hex');

export class AgentSession {
  readonly agentId: string;
  lastSeen = Date.now();
  initialized = false;
  closed = false;
  logLevel: number | undefined; // index into LOG_LEVELS; undefined = everything
  readonly subscriptions = new Set<string>(); // agent-facing resource URIs
  readonly serverRequests = new Map<string, ForwardedServerRequest>();
  readonly inFlight = new Map<RequestId, InFlight>();
  /** Streams that may be resumed with Last-Event-ID: the GET stream and recent POST streams. */
  readonly streams = new Map<string, EventStream>();
  private nextServerRequest = 1;
  private nextStream = 1;
  private standalone: EventStream | undefined;

  constructor(
    readonly identity: AgentIdentity,
    /** '' for the aggregate endpoint, else the server of `/mcp/<server>`. */
    readonly viewKey: string,
    public protocolVersion: string,
    public clientInfo: Record<string, unknown>,
    public capabilities: Record<string, unknown>,
    private readonly replayEvents: number,
    /** Sealed (see session-seal.ts) for Streamable HTTP; random for legacy SSE, bound to its connection. */
    readonly id: string = randomBytes(18).toString('base64url'),
    readonly createdAt: number = Date.now(),
  ) {
    this.agentId = identity.id;
    this.ref = sha256Hex(this.id).slice(0, 16);
  }

  /**
   * What people read (audit records): the id is hundreds of characters when sealed, and a
   * credential for the session; the first 16 hex of its SHA-256 name it as well. Computed once.
   */
  readonly ref: string;

  /**
   * Set when other gateway instances may serve this session too: a message with no GET stream
   * attached here, an answer to another instance's request, a cancellation of its call, go there.
   */
  bus: SessionBus | undefined;

  /** Upstream requests waiting for this session's answer: how many, how long (mcp.server_requests). */
  serverRequestLimits: ServerRequestLimits = DEFAULT_SERVER_REQUEST_LIMITS;

  /** How much each of its SSE streams may hold (server.sse_max_queued_bytes). */
  streamBounds: StreamBounds = DEFAULT_STREAM_BOUNDS;

  /** Replicas and upstream sessions chosen at initialize (sealed in the id when instances share sessions). */
  placement: Readonly<Record<string, Placement>> | undefined;

  newServerRequestId(): string {
    return `tg-${INSTANCE_TAG}-${this.nextServerRequest++}`;
  }

  newStream(): EventStream {
    const s = new EventStream(`${INSTANCE_TAG}${this.nextStream++}`, this.replayEvents, this.streamBounds);
    s.onOverflow = (msg) => this.undelivered(msg);
    this.streams.set(s.id, s);
    // Keep only a bounded number of finished streams around for resumption.
    if (this.streams.size > 64) {
      for (const [k, v] of this.streams) {
        if (v.isFinished && v !== this.standalone) {
          this.streams.delete(k);
          break;
        }
      }
    }
    return s;
  }

  /** The GET stream (made on demand so messages sent before the agent connects can be replayed). */
  standaloneStream(): EventStream {
    this.standalone ??= this.newStream();
    return this.standalone;
  }

  get hasStandaloneListener(): boolean {
    return this.standalone?.attached ?? false;
  }

  /** Server-to-client message not tied to a request: goes on the standalone stream. */
  send(msg: JsonRpcMessage): void {
    if (this.closed) return;
    if (this.bus && !this.hasStandaloneListener) this.bus.publish({ t: 'notify', s: this.id, m: msg });
    else this.standaloneStream().push(msg);
  }

  /** Tells the other instances what changed (log level, subscriptions). */
  shareState(ttlMs: number): void {
    this.bus?.shareState(this.id, { logLevel: this.logLevel, subscriptions: [...this.subscriptions] }, ttlMs);
  }

  /** What another instance changed. */
  adoptState(state: SessionState): void {
    this.logLevel = state.logLevel;
    this.subscriptions.clear();
    for (const uri of state.subscriptions) this.subscriptions.add(uri);
  }

  /** A message another instance had for this session (never sent on again). */
  sendHere(msg: JsonRpcMessage): void {
    if (!this.closed && this.hasStandaloneListener) this.standaloneStream().push(msg);
  }

  /**
   * A message its stream could not take (the agent fell too far behind). A request the upstream
   * made of the agent is answered for it with an error now, rather than left waiting.
   */
  private undelivered(msg: JsonRpcMessage): void {
    if (!('method' in msg) || !('id' in msg)) return;
    this.failServerRequest(
      String(msg.id),
      TollgateCode.OverCapacity,
      `the agent's stream fell too far behind to take ${msg.method}`,
    );
  }

  /**
   * Remembers an upstream's request forwarded to this agent until it is answered, or refuses it
   * (false) when `maxPerSession` already wait. It expires after `timeoutMs`: the upstream gets a
   * timeout error and the agent a cancellation.
   */
  trackServerRequest(id: string, request: ForwardedServerRequest): boolean {
    const { maxPerSession, timeoutMs } = this.serverRequestLimits;
    if (this.closed || this.serverRequests.size >= maxPerSession) return false;
    const expiry = setTimeout(() => {
      if (
        this.failServerRequest(id, TollgateCode.UpstreamTimeout, `the agent did not answer ${request.method} in time`)
      )
        this.send({
          jsonrpc: '2.0',
          method: 'notifications/cancelled',
          params: { requestId: id, reason: 'timed out' },
        });
    }, timeoutMs);
    expiry.unref();
    this.serverRequests.set(id, { ...request, expiry });
    return true;
  }

  /** Takes a forwarded request out (answered or withdrawn), stopping its expiry. */
  takeServerRequest(id: string): ForwardedServerRequest | undefined {
    const r = this.serverRequests.get(id);
    if (!r) return undefined;
    this.serverRequests.delete(id);
    clearTimeout(r.expiry);
    return r;
  }

  /** Ends a forwarded request the agent will not answer: its upstream gets this error. */
  private failServerRequest(id: string, code: number, message: string): boolean {
    const r = this.takeServerRequest(id);
    if (!r) return false;
    r.upstreamSession.respond(errorMessage(r.upstreamRequestId, { code, message }));
    return true;
  }

  close(): void {
    this.closed = true;
    // Requests upstreams made of this agent will never be answered now: tell them.
    for (const id of [...this.serverRequests.keys()])
      this.failServerRequest(id, TollgateCode.Cancelled, "the agent's session ended");
    for (const s of this.streams.values()) s.hangUp(1000);
    for (const f of this.inFlight.values()) f.cancel?.();
    this.inFlight.clear();
  }
}

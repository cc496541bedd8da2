// One MCP session with an upstream server over a channel: the handshake, request ids of our own
// (agents' ids may collide on a shared session), progress tokens of our own (the same reason),
// deadlines that stretch while progress arrives, and attribution of server messages to the
// request that caused them.
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import {
  isObject,
  progressTokenOf,
  type JsonRpcMessage,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type RequestId,
} from '../mcp/jsonrpc.js';
import { GatewayError } from '../errors.js';
import { BadResponseError, ChannelError, RequestAbort, type Channel } from './channel.js';
import { mirroredHeaders, withEnvelope } from './modern-wire.js';
import {
  UndeliveredError,
  type InitializeOutcome,
  type RequestOptions,
  type SessionHooks,
  type StartOptions,
  type UpstreamSessionEvents,
} from './session-types.js';
import { ModernLink, probeDiscover } from './modern-link.js';
import { letGo, soleListener, type Pending } from './pending.js';
import { initializeOutcomeOf } from './initialize-result.js';

export type {
  RequestOptions,
  StartOptions,
  SessionHooks,
  Cancellation,
  UpstreamSessionEvents,
  InitializeOutcome,
} from './session-types.js';
export { UndeliveredError } from './session-types.js';

export class UpstreamSession {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private alive = false;
  init: InitializeOutcome | undefined;
  /** Set when the upstream speaks 2026-07-28: stateless requests, a listen stream. */
  private modern: ModernLink | undefined;
  private clientInfo = { name: '', version: '' };
  /** The channel was lost during the server/discover probe (a 2025 stdio server may exit on it). */
  probeLost = false;

  constructor(
    readonly channel: Channel,
    private readonly events: UpstreamSessionEvents,
    private readonly hooks: SessionHooks = {},
  ) {}

  get isModern(): boolean {
    return this.modern !== undefined;
  }

  get isAlive(): boolean {
    return this.alive;
  }
  get inFlight(): number {
    return this.pending.size;
  }

  async start(opts: StartOptions): Promise<InitializeOutcome> {
    const { clientInfo, capabilities, timeoutMs } = opts;
    this.clientInfo = clientInfo;
    await this.channel.open({
      message: (msg, related) => this.onMessage(msg, related),
      closed: (reason) => this.onClosed(reason),
      discarded: (reason, related, response) => this.onDiscarded(reason, related, response),
    });
    this.alive = true;
    if (opts.protocol !== '2025') {
      const probe = await probeDiscover(this, clientInfo, timeoutMs).catch((err: unknown) => {
        this.probeLost = !this.alive;
        throw err;
      });
      if (probe.kind === 'modern') {
        this.init = probe.init;
        this.modern = new ModernLink(this, probe.init.capabilities, opts.watchLists, (m) => this.events.unrelated(m));
        this.channel.initialized({ protocolVersion: probe.init.protocolVersion, stateless: true });
        this.modern.start();
        return probe.init;
      }
      if (opts.protocol === '2026')
        throw new ChannelError(`upstream does not speak 2026-07-28 (server/discover: ${probe.reason})`);
    }
    const res = await this.request(
      'initialize',
      { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities, clientInfo },
      { timeoutMs, maxTotalMs: timeoutMs },
    );
    this.init = initializeOutcomeOf(res);
    await this.channel.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    this.channel.initialized({ protocolVersion: this.init.protocolVersion });
    return this.init;
  }

  /**
   * Takes over an upstream session another gateway instance initialized (its id travels in the
   * agent's sealed session id): no handshake, the server already knows it.
   */
  async adopt(init: InitializeOutcome, upstreamSessionId: string): Promise<void> {
    await this.channel.open({
      message: (msg, related) => this.onMessage(msg, related),
      closed: (reason) => this.onClosed(reason),
      discarded: (reason, related, response) => this.onDiscarded(reason, related, response),
    });
    this.alive = true;
    this.init = init;
    this.channel.initialized({ sessionId: upstreamSessionId, protocolVersion: init.protocolVersion });
  }

  get upstreamSessionId(): string | undefined {
    return this.channel.upstreamSessionId;
  }

  /** Sends a request with our own id and progress token; resolves with the upstream's response. */
  request(method: string, params: Record<string, unknown> | undefined, opts: RequestOptions): Promise<JsonRpcResponse> {
    if (!this.alive)
      return Promise.reject(new GatewayError('upstream_unavailable', 'upstream session is not connected'));
    const id = this.nextId++;
    let outParams = params;
    if (progressTokenOf(params) !== undefined && params) {
      // Our id doubles as our progress token: unique on this session, and maps straight back.
      outParams = { ...params, _meta: { ...(params._meta as Record<string, unknown>), progressToken: id } };
    }
    let headers = opts.headers;
    if (this.modern) {
      const local = this.modern.answerLocally(method, params);
      if (local) return Promise.resolve({ jsonrpc: '2.0', id, result: local });
      outParams = withEnvelope(outParams, this.clientInfo, opts.agent);
      headers = mirroredHeaders(method, params, this.hooks.toolSchema ?? (() => undefined), opts.headers);
    }
    const msg: JsonRpcRequest =
      outParams === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params: outParams };
    return new Promise<JsonRpcResponse>((resolve, reject) => {
      // No AbortController or second timer per request: both showed up in the relay's profile.
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const abort = this.channel.abortable ? new RequestAbort() : undefined;
      const fail = (err: Error, notifyUpstream: boolean): void => {
        if (!this.pending.has(id)) return;
        clearTimeout(timer);
        this.pending.delete(id);
        letGo(entry);
        abort?.abort(); // free the upstream connection a stuck request holds
        if (opts.cancellation) opts.cancellation.cancel = opts.cancellation.rearm = undefined;
        if (notifyUpstream) this.cancelUpstream(id, err.message);
        reject(err);
      };
      // One deadline: the idle timeout, re-armed by progress, never past the total cap.
      const arm = (idleMs = opts.timeoutMs): void => {
        clearTimeout(timer);
        const elapsed = Date.now() - started;
        const capped = opts.maxTotalMs - elapsed <= idleMs;
        timer = setTimeout(
          () =>
            fail(
              new GatewayError(
                'upstream_timeout',
                capped
                  ? `upstream exceeded the ${opts.maxTotalMs} ms cap for ${method}`
                  : `upstream did not answer ${method} in time`,
              ),
              true,
            ),
          Math.max(Math.min(idleMs, opts.maxTotalMs - elapsed), 0),
        );
      };
      arm();
      if (opts.cancellation) {
        // Not `opts.cancellation.cancel = () => …`: V8 allocates a function literal assigned straight
        // to a property in old space, and that dead closure then kept each request's objects alive
        // through every young-generation GC until a full one (docs/benchmark-history.md, session 7).
        const cancel = (): void => fail(new GatewayError('cancelled', 'request cancelled'), true);
        opts.cancellation.cancel = cancel;
        opts.cancellation.rearm = arm;
      }
      const entry: Pending = {
        resolve: (r) => {
          clearTimeout(timer);
          this.pending.delete(id);
          letGo(entry);
          if (opts.cancellation) opts.cancellation.cancel = opts.cancellation.rearm = undefined;
          resolve(r);
        },
        reject: (e) => fail(e, false),
        onRelated: opts.onRelated,
        touch: () => arm(),
      };
      this.pending.set(id, entry);
      this.sendSafely(msg, headers, abort).catch((err: Error) => {
        if (err instanceof ChannelError && err.undelivered) return fail(new UndeliveredError(err.message), false);
        // Per-user credentials: "authorize first" (with its link) reaches the agent as it is.
        if (err instanceof GatewayError) return fail(err, false);
        const kind =
          err instanceof BadResponseError
            ? 'upstream_bad_response'
            : err instanceof ChannelError
              ? 'upstream_unavailable'
              : 'internal';
        fail(new GatewayError(kind, err.message), false);
      });
    });
  }

  /** 2026 has no session-level notifications to send (cancellation is closing the stream). */
  notify(method: string, params?: Record<string, unknown>): void {
    if (!this.alive || this.modern) return;
    this.sendSafely(params ? { jsonrpc: '2.0', method, params } : { jsonrpc: '2.0', method }).catch(() => undefined);
  }

  /** Answers a request the upstream sent us (sampling, elicitation, roots/list, ping). */
  respond(response: JsonRpcResponse): void {
    if (!this.alive) return;
    this.sendSafely(response).catch(() => undefined);
  }

  /** A channel that throws synchronously (e.g. a value it cannot serialise) fails like one that rejects. */
  private sendSafely(
    msg: JsonRpcMessage,
    headers?: Readonly<Record<string, string>>,
    abort?: RequestAbort,
  ): Promise<void> {
    try {
      return this.channel.send(msg, headers, abort);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private cancelUpstream(id: number, reason: string): void {
    this.notify('notifications/cancelled', { requestId: id, reason });
  }

  private onMessage(msg: JsonRpcMessage, relatedTo: RequestId | undefined): void {
    if (!('method' in msg)) {
      const p = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
      p?.resolve(msg);
      return;
    }
    let target: Pending | undefined;
    if (msg.method === 'notifications/progress') {
      // Progress is only ever about a request of ours in flight (its token is our id). Any other
      // token names nothing we sent: relayed, it would reach every agent, whose own tokens an
      // upstream can guess (SDKs use their message ids).
      const token = isObject(msg.params) ? msg.params.progressToken : undefined;
      target = typeof token === 'number' ? this.pending.get(token) : undefined;
      if (!target) return;
      target.touch();
    } else if (typeof relatedTo === 'number') {
      target = this.pending.get(relatedTo);
    } else if (relatedTo === undefined && ('id' in msg || msg.method === 'notifications/message')) {
      // Requests and log lines during a call belong to that call when only one could have caused them.
      target = soleListener(this.pending);
    }
    if (target?.onRelated) target.onRelated(msg);
    else this.events.unrelated(msg);
  }

  /**
   * An answer too big to read fails its call with -32052 (bad response). When it did not say which
   * call, it can only be the one in flight, if there is exactly one; otherwise the call waits for its
   * deadline (never guess between agents).
   */
  private onDiscarded(reason: string, relatedTo: RequestId | undefined, response: boolean): void {
    let p = typeof relatedTo === 'number' ? this.pending.get(relatedTo) : undefined;
    if (!p && relatedTo === undefined && response && this.pending.size === 1) p = this.pending.values().next().value;
    p?.reject(new GatewayError('upstream_bad_response', reason));
  }

  private onClosed(reason: string): void {
    if (!this.alive) return;
    this.alive = false;
    this.modern?.stop();
    for (const p of [...this.pending.values()])
      p.reject(new GatewayError('upstream_unavailable', `upstream connection lost: ${reason}`));
    this.pending.clear();
    this.events.closed(reason);
  }

  /** `endSession: false` leaves the upstream's session to other gateway instances. */
  async close(endSession = true): Promise<void> {
    this.onClosed('closed by gateway');
    await this.channel.close({ endSession });
  }
}

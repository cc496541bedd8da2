// One MCP session with an upstream server over a channel: the handshake, request ids of our own
// (agents' ids may collide on a shared session), progress tokens of our own (the same reason),
// deadlines that stretch while progress arrives, and attribution of server messages to the
// request that caused them.
import { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
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

export interface RequestOptions {
  /** Messages the upstream sends in the course of this request (progress, logs, sampling…). */
  onRelated?: (msg: JsonRpcMessage) => void;
  /** Filled in while the request is in flight: calling it cancels the request upstream. */
  cancellation?: Cancellation;
  /** Per-request HTTP headers (e.g. the agent identity), for HTTP upstreams. */
  headers?: Readonly<Record<string, string>>;
  timeoutMs: number;
  maxTotalMs: number;
}

export interface Cancellation {
  cancel: (() => void) | undefined;
  /**
   * Filled in while the request is in flight: re-arms its idle deadline to `idleMs` (still capped
   * by maxTotalMs). Lets a call parked on an agent's input wait longer than the upstream idle timeout.
   */
  rearm?: ((idleMs: number) => void) | undefined;
}

interface Pending {
  resolve(r: JsonRpcResponse): void;
  reject(e: Error): void;
  onRelated: ((msg: JsonRpcMessage) => void) | undefined;
  /** Re-arms the idle deadline; called on progress. */
  touch(): void;
}

/** The request never reached the upstream (it could not be connected to): another replica may take it. */
export class UndeliveredError extends GatewayError {
  constructor(message: string) {
    super('upstream_unavailable', message);
  }
}

export interface UpstreamSessionEvents {
  /** A server message tied to no request of ours: list_changed, resources/updated, GET-stream requests. */
  unrelated(msg: JsonRpcMessage): void;
  closed(reason: string): void;
}

export interface InitializeOutcome {
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  serverInfo: Record<string, unknown>;
  instructions: string | undefined;
}

export class UpstreamSession {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private alive = false;
  init: InitializeOutcome | undefined;

  constructor(
    readonly channel: Channel,
    private readonly events: UpstreamSessionEvents,
  ) {}

  get isAlive(): boolean {
    return this.alive;
  }
  get inFlight(): number {
    return this.pending.size;
  }

  async start(clientInfo: { name: string; version: string }, capabilities: Record<string, unknown>, timeoutMs: number): Promise<InitializeOutcome> {
    await this.channel.open({
      message: (msg, related) => this.onMessage(msg, related),
      closed: (reason) => this.onClosed(reason),
    });
    this.alive = true;
    const res = await this.request(
      'initialize',
      { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities, clientInfo },
      { timeoutMs, maxTotalMs: timeoutMs },
    );
    if ('error' in res) throw new ChannelError(`upstream refused initialize: ${res.error.message}`);
    const r = res.result;
    const version = typeof r.protocolVersion === 'string' ? r.protocolVersion : '';
    if (!SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
      throw new ChannelError(`upstream speaks unsupported protocol version ${JSON.stringify(version)}`);
    }
    this.init = {
      protocolVersion: version,
      capabilities: isObject(r.capabilities) ? r.capabilities : {},
      serverInfo: isObject(r.serverInfo) ? r.serverInfo : {},
      instructions: typeof r.instructions === 'string' ? r.instructions : undefined,
    };
    await this.channel.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    this.channel.initialized({ protocolVersion: version });
    return this.init;
  }

  /** Sends a request with our own id and progress token; resolves with the upstream's response. */
  request(method: string, params: Record<string, unknown> | undefined, opts: RequestOptions): Promise<JsonRpcResponse> {
    if (!this.alive) return Promise.reject(new GatewayError('upstream_unavailable', 'upstream session is not connected'));
    const id = this.nextId++;
    let outParams = params;
    if (progressTokenOf(params) !== undefined && params) {
      // Our id doubles as our progress token: unique on this session, and maps straight back.
      outParams = { ...params, _meta: { ...(params._meta as Record<string, unknown>), progressToken: id } };
    }
    const msg: JsonRpcRequest = outParams === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params: outParams };
    return new Promise<JsonRpcResponse>((resolve, reject) => {
      // No AbortController or second timer per request: both showed up in the relay's profile.
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const abort = this.channel.abortable ? new RequestAbort() : undefined;
      const fail = (err: Error, notifyUpstream: boolean): void => {
        if (!this.pending.has(id)) return;
        clearTimeout(timer);
        this.pending.delete(id);
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
          () => fail(new GatewayError('upstream_timeout', capped ? `upstream exceeded the ${opts.maxTotalMs} ms cap for ${method}` : `upstream did not answer ${method} in time`), true),
          Math.max(Math.min(idleMs, opts.maxTotalMs - elapsed), 0),
        );
      };
      arm();
      if (opts.cancellation) {
        opts.cancellation.cancel = () => fail(new GatewayError('cancelled', 'request cancelled'), true);
        opts.cancellation.rearm = arm;
      }
      this.pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          this.pending.delete(id);
          if (opts.cancellation) opts.cancellation.cancel = opts.cancellation.rearm = undefined;
          resolve(r);
        },
        reject: (e) => fail(e, false),
        onRelated: opts.onRelated,
        touch: () => arm(),
      });
      this.sendSafely(msg, opts.headers, abort).catch((err: Error) => {
        if (err instanceof ChannelError && err.undelivered) return fail(new UndeliveredError(err.message), false);
        const kind = err instanceof BadResponseError ? 'upstream_bad_response' : err instanceof ChannelError ? 'upstream_unavailable' : 'internal';
        fail(new GatewayError(kind, err.message), false);
      });
    });
  }

  notify(method: string, params?: Record<string, unknown>): void {
    if (!this.alive) return;
    this.sendSafely(params ? { jsonrpc: '2.0', method, params } : { jsonrpc: '2.0', method }).catch(() => undefined);
  }

  /** Answers a request the upstream sent us (sampling, elicitation, roots/list, ping). */
  respond(response: JsonRpcResponse): void {
    if (!this.alive) return;
    this.sendSafely(response).catch(() => undefined);
  }

  /** A channel that throws synchronously (e.g. a value it cannot serialise) fails like one that rejects. */
  private sendSafely(msg: JsonRpcMessage, headers?: Readonly<Record<string, string>>, abort?: RequestAbort): Promise<void> {
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
    if (msg.method === 'notifications/progress' && isObject(msg.params)) {
      const token = msg.params.progressToken;
      target = typeof token === 'number' ? this.pending.get(token) : undefined;
      target?.touch();
    } else if (typeof relatedTo === 'number') {
      target = this.pending.get(relatedTo);
    } else if (relatedTo === undefined && ('id' in msg || msg.method === 'notifications/message')) {
      // Requests and log lines during a call belong to that call when only one could have caused them.
      target = this.soleListener();
    }
    if (target?.onRelated) target.onRelated(msg);
    else this.events.unrelated(msg);
  }

  /**
   * stdio and legacy SSE cannot say which request a server request belongs to. When exactly one
   * request in flight listens for related messages, it is unambiguous; otherwise we must not guess
   * (a wrong guess would show one agent's sampling request to another).
   */
  private soleListener(): Pending | undefined {
    let found: Pending | undefined;
    for (const p of this.pending.values()) {
      if (!p.onRelated) continue;
      if (found) return undefined;
      found = p;
    }
    return found;
  }

  private onClosed(reason: string): void {
    if (!this.alive) return;
    this.alive = false;
    for (const p of [...this.pending.values()]) p.reject(new GatewayError('upstream_unavailable', `upstream connection lost: ${reason}`));
    this.pending.clear();
    this.events.closed(reason);
  }

  async close(): Promise<void> {
    this.onClosed('closed by gateway');
    await this.channel.close();
  }
}

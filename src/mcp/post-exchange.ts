// The agent side of requests in one POST. Answers with plain JSON when the upstream answers before
// saying anything else (the fast, common case), and switches to SSE the moment a related message
// (progress, log, sampling request) must reach the agent before the final response.
import { EventStream } from './event-stream.js';
import { responseJson } from './result-json.js';
import { sseResponse } from './sse-response.js';
import { errorMessage, type JsonRpcMessage, type JsonRpcResponse, type RequestId } from './jsonrpc.js';
import { TollgateCode } from '../errors.js';
import { DEFAULT_STREAM_BOUNDS, type StreamBounds } from './stream-bounds.js';
import type { AgentSession } from './agent-session.js';
import type { Exchange } from '../relay/scope.js';
import type { ConnectionCap, Slot } from './connection-cap.js';

export interface PostExchangeOptions {
  acceptsJson: boolean;
  keepaliveMs: number;
  /** SSE stream caps, and whose stream this would be. */
  streams: ConnectionCap;
  agent: string;
  /** Taken (and checked) by the caller when the agent asked for SSE from the start. */
  slot?: Slot | undefined;
  headers: Record<string, string>;
  batch: boolean;
  /** The ids of the POST's requests: each gets exactly one answer. */
  ids: readonly RequestId[];
  /** For a stream without a session (2026): how much it may hold (sessions bring their own). */
  bounds?: StreamBounds | undefined;
  /** Destroys the POST's connection (a stream cut for falling behind). */
  cut?: (() => void) | undefined;
  /**
   * Takes a plain JSON answer as it is, instead of a Response (the /mcp fast lane writes it on the
   * Node response itself); `response` then settles only if the exchange switches to SSE.
   */
  plain?: (status: number, headers: Record<string, string>, body: string) => void;
  /**
   * Takes the SSE response, when the exchange switches to one, instead of `response` (the fast
   * lane): no promise per exchange for what is rarely used.
   */
  streamed?: (r: Response) => void;
}

export class PostExchange implements Exchange {
  private stream: EventStream | undefined;
  private settled: Response | undefined;
  private resolve: ((r: Response) => void) | undefined;
  private promised: Promise<Response> | undefined;
  private remaining: number;
  private readonly answers: JsonRpcResponse[] = [];
  /**
   * A batch's requests not answered yet (by id as a string key: 1 and "1" are one agent's, never
   * both). A single request is open while it is unanswered (no map per call on the hot path).
   */
  private readonly open: Map<string, RequestId> | undefined;
  /** The SSE stream was cut (the agent fell too far behind): answers from now on were given. */
  private cut = false;

  constructor(
    private readonly session: AgentSession | undefined,
    private readonly opts: PostExchangeOptions,
  ) {
    this.remaining = opts.ids.length;
    if (opts.ids.length > 1) {
      this.open = new Map();
      for (const id of opts.ids) this.open.set(`${typeof id}:${id}`, id);
    }
    if (!opts.acceptsJson) this.startSse();
  }

  /** The HTTP answer: plain JSON once every request is answered, or SSE from the first message before. */
  get response(): Promise<Response> {
    this.promised ??= this.settled ? Promise.resolve(this.settled) : new Promise((r) => (this.resolve = r));
    return this.promised;
  }

  private settle(r: Response): void {
    if (this.opts.streamed) return this.opts.streamed(r);
    this.settled = r;
    this.resolve?.(r);
  }

  private startSse(): EventStream {
    if (this.stream) return this.stream;
    const stream = this.session
      ? this.session.newStream()
      : new EventStream('0', 0, this.opts.bounds ?? DEFAULT_STREAM_BOUNDS);
    this.stream = stream;
    const before = stream.onOverflow;
    stream.onOverflow = (msg) => {
      before?.(msg);
      this.overflowed(stream);
    };
    // Switching mid-call is not refused over the cap: the call was admitted, and its answer must
    // reach the agent. Such streams are bounded by the agent's calls in flight.
    const slot = this.opts.slot ?? this.opts.streams.force(this.opts.agent);
    this.settle(
      sseResponse(stream, { keepaliveMs: this.opts.keepaliveMs, headers: this.opts.headers, slot, cut: this.opts.cut }),
    );
    if (this.session && this.session.protocolVersion >= '2025-11-25') stream.prime(1000);
    for (const a of this.answers) stream.push(a);
    return stream;
  }

  emit(msg: JsonRpcMessage): void {
    this.startSse().push(msg);
  }

  /**
   * One request's final answer. The exchange ends when every request in the POST is answered.
   * `status` applies only when the answer still goes out as plain JSON.
   */
  answer(res: JsonRpcResponse, status = 200): void {
    if (this.cut) return; // answered with an error when the stream was cut
    this.open?.delete(`${typeof res.id}:${res.id}`);
    this.remaining--;
    if (this.stream) {
      this.stream.push(res);
      if (this.remaining === 0) this.stream.finish();
      return;
    }
    this.answers.push(res);
    if (this.remaining > 0) return;
    const body = this.opts.batch ? JSON.stringify(this.answers) : responseJson(res);
    const headers = { 'content-type': 'application/json', ...this.opts.headers };
    if (this.opts.plain) this.opts.plain(status, headers, body);
    else this.settle(new Response(body, { status, headers }));
  }

  /**
   * The agent did not read its stream and it held too much: the connection is cut, the calls still
   * running are cancelled upstream and each is answered with a clear error, kept on the stream for
   * a client that resumes it (Last-Event-ID).
   */
  private overflowed(stream: EventStream): void {
    if (this.cut) return;
    this.cut = true;
    const max = stream.bounds.maxQueuedBytes;
    const open = this.open ? [...this.open.values()] : this.remaining > 0 ? this.opts.ids : [];
    for (const id of open) {
      this.session?.inFlight.get(id)?.cancel?.();
      stream.push(
        errorMessage(id, {
          code: TollgateCode.OverCapacity,
          message: `the agent's SSE stream fell more than ${max} bytes behind (server.sse_max_queued_bytes): the stream was closed and this call ended`,
        }),
      );
    }
    this.open?.clear();
    this.remaining = 0;
    stream.finish();
  }
}

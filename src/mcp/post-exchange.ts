// The agent side of requests in one POST. Answers with plain JSON when the upstream answers before
// saying anything else (the fast, common case), and switches to SSE the moment a related message
// (progress, log, sampling request) must reach the agent before the final response.
import { EventStream } from './event-stream.js';
import { responseJson } from './result-json.js';
import { sseResponse } from './sse-response.js';
import type { JsonRpcMessage, JsonRpcResponse } from './jsonrpc.js';
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
  count: number;
  /**
   * Takes a plain JSON answer as it is, instead of a Response (the /mcp fast lane writes it on the
   * Node response itself); `response` then settles only if the exchange switches to SSE.
   */
  plain?: (status: number, headers: Record<string, string>, body: string) => void;
}

export class PostExchange implements Exchange {
  private stream: EventStream | undefined;
  private settle!: (r: Response) => void;
  readonly response: Promise<Response>;
  private remaining: number;
  private readonly answers: JsonRpcResponse[] = [];

  constructor(
    private readonly session: AgentSession | undefined,
    private readonly opts: PostExchangeOptions,
  ) {
    this.response = new Promise((r) => (this.settle = r));
    this.remaining = opts.count;
    if (!opts.acceptsJson) this.startSse();
  }

  private startSse(): EventStream {
    if (this.stream) return this.stream;
    const stream = this.session ? this.session.newStream() : new EventStream('0', 0);
    this.stream = stream;
    // Switching mid-call is not refused over the cap: the call was admitted, and its answer must
    // reach the agent. Such streams are bounded by the agent's calls in flight.
    const slot = this.opts.slot ?? this.opts.streams.force(this.opts.agent);
    this.settle(sseResponse(stream, { keepaliveMs: this.opts.keepaliveMs, headers: this.opts.headers, slot }));
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
}

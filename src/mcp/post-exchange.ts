// The agent side of requests in one POST. Answers with plain JSON when the upstream answers before
// saying anything else (the fast, common case), and switches to SSE the moment a related message
// (progress, log, sampling request) must reach the agent before the final response.
import { EventStream } from './event-stream.js';
import { sseResponse } from './sse-response.js';
import type { JsonRpcMessage, JsonRpcResponse } from './jsonrpc.js';
import type { AgentSession } from './agent-session.js';
import type { Exchange } from '../relay/scope.js';

export class PostExchange implements Exchange {
  private stream: EventStream | undefined;
  private settle!: (r: Response) => void;
  readonly response: Promise<Response>;
  private remaining: number;
  private readonly answers: JsonRpcResponse[] = [];

  constructor(
    private readonly session: AgentSession | undefined,
    private readonly opts: { acceptsJson: boolean; keepaliveMs: number; counter: { open: number }; headers: Record<string, string>; batch: boolean; count: number },
  ) {
    this.response = new Promise((r) => (this.settle = r));
    this.remaining = opts.count;
    if (!opts.acceptsJson) this.startSse();
  }

  private startSse(): EventStream {
    if (this.stream) return this.stream;
    const stream = this.session ? this.session.newStream() : new EventStream('0', 0);
    this.stream = stream;
    this.settle(sseResponse(stream, { keepaliveMs: this.opts.keepaliveMs, headers: this.opts.headers, counter: this.opts.counter }));
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
    const body = this.opts.batch ? JSON.stringify(this.answers) : JSON.stringify(res);
    this.settle(new Response(body, { status, headers: { 'content-type': 'application/json', ...this.opts.headers } }));
  }
}

// One 2026 agent's call to a 2025-era upstream that may ask for input mid-call. The upstream sends
// real server-to-client requests (elicitation, sampling, roots) and waits; a 2026 agent can only be
// asked in an `input_required` result and answers by retrying. So the upstream request stays
// pending here ("parked") across the agent's rounds: each round hands out the requests still
// unanswered, and the retry's `inputResponses` answer them upstream.
import { randomBytes } from 'node:crypto';
import {
  errorMessage,
  isObject,
  type JsonRpcMessage,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type RequestId,
} from '../mcp/jsonrpc.js';
import { GatewayError } from '../errors.js';
import type { Cancellation, UpstreamSession } from '../upstream/session.js';
import type { Exchange } from './scope.js';
import { levelAllows } from './forward.js';

/** Which client capability each server-to-client request needs, and the key prefix we give it. */
const ASKABLE = new Map<string, { capability: string; key: string }>([
  ['elicitation/create', { capability: 'elicitation', key: 'elicitation' }],
  ['sampling/createMessage', { capability: 'sampling', key: 'sampling' }],
  ['roots/list', { capability: 'roots', key: 'roots' }],
]);

/**
 * The 2025 wire sends one round's requests as separate messages with nothing marking the last one;
 * servers send them back to back. A short quiet period gathers them into one round; a request that
 * comes later is not lost, it opens the next round.
 */
const GATHER_MS = 20;

export type InputRequests = Record<string, { method: string; params: Record<string, unknown> | undefined }>;
export type FlowStep = { kind: 'final'; response: JsonRpcResponse } | { kind: 'input'; requests: InputRequests };

/** The agent request serving the current round: where progress and logs go, what it declared. */
export interface RoundContext {
  exchange: Exchange;
  progressToken: string | number | undefined;
  capabilities: Record<string, unknown>;
  logLevel: number | null | undefined;
}

interface Asked {
  upstreamId: RequestId;
  method: string;
  params: Record<string, unknown> | undefined;
}

export interface Answered {
  key: string;
  method: string;
}

export class InputFlow {
  readonly id = randomBytes(12).toString('base64url');
  private readonly pending = new Map<string, Asked>();
  private nextKey = 1;
  private outcome: JsonRpcResponse | Error | undefined;
  private missing: GatewayError | undefined;
  private gathering: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private round: RoundContext | undefined;
  private capabilities: Record<string, unknown> = {};
  private readonly cancellation: Cancellation = { cancel: undefined };

  constructor(
    readonly agentId: string,
    /** What the agent's retries must name again: the method and the namespaced target. */
    readonly method: string,
    readonly target: string,
    readonly upstreamName: string,
    private readonly session: UpstreamSession,
    private readonly timeouts: { requestMs: number; maxTotalMs: number },
  ) {}

  /** Sends the call upstream; its end (result, error, timeout) is kept until a round takes it. */
  start(params: Record<string, unknown> | undefined, headers: Readonly<Record<string, string>> | undefined): void {
    this.session
      .request(this.method, params, {
        onRelated: (m) => this.related(m),
        cancellation: this.cancellation,
        headers,
        timeoutMs: this.timeouts.requestMs,
        maxTotalMs: this.timeouts.maxTotalMs,
      })
      .then(
        (r) => this.settle(r),
        (e: unknown) => this.settle(e instanceof Error ? e : new Error(String(e))),
      );
  }

  attach(round: RoundContext): void {
    this.round = round;
    this.capabilities = round.capabilities;
  }

  detach(): void {
    this.round = undefined;
  }

  /** Waits until the upstream has finished, or has asked for input the agent must give. */
  async next(): Promise<FlowStep> {
    for (;;) {
      if (this.missing) throw this.missing; // whatever the upstream makes of the refusal
      if (this.outcome !== undefined) {
        if (this.outcome instanceof Error) throw this.outcome;
        return { kind: 'final', response: this.outcome };
      }
      if (this.gathering === undefined && this.pending.size > 0) {
        const requests: InputRequests = {};
        for (const [key, a] of this.pending) requests[key] = { method: a.method, params: a.params };
        return { kind: 'input', requests };
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** The pending requests the retry's `inputResponses` answer (keys we did not ask are ignored). */
  answerable(responses: Record<string, Record<string, unknown>>): Answered[] {
    return [...this.pending]
      .filter(([key]) => Object.hasOwn(responses, key))
      .map(([key, a]) => ({ key, method: a.method }));
  }

  /** Sends those answers upstream; requests left unanswered are asked again in the next round. */
  deliver(responses: Record<string, Record<string, unknown>>): void {
    let any = false;
    for (const { key } of this.answerable(responses)) {
      const a = this.pending.get(key);
      const result = responses[key];
      if (!a || !result) continue;
      this.pending.delete(key);
      this.session.respond({ jsonrpc: '2.0', id: a.upstreamId, result });
      any = true;
    }
    // The upstream works again: its ordinary idle deadline applies.
    if (any) this.cancellation.rearm?.(this.timeouts.requestMs);
  }

  /** Parked: the upstream waits on a person, so its idle deadline becomes the park TTL. */
  parked(ttlMs: number): void {
    this.cancellation.rearm?.(ttlMs);
  }

  /** Gives up (TTL, shutdown, over a cap): the upstream's requests fail and its call is cancelled. */
  abandon(reason: string): void {
    for (const a of this.pending.values())
      this.session.respond(errorMessage(a.upstreamId, { code: -32603, message: reason }));
    this.pending.clear();
    this.cancellation.cancel?.();
  }

  private settle(outcome: JsonRpcResponse | Error): void {
    this.outcome ??= outcome;
    clearTimeout(this.gathering);
    this.gathering = undefined;
    this.poke();
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private related(m: JsonRpcMessage): void {
    if (!('method' in m)) return;
    if ('id' in m) return this.serverRequest(m);
    const round = this.round;
    if (!round) return; // between rounds no agent request is open to carry it
    if (m.method === 'notifications/progress') {
      if (round.progressToken !== undefined && isObject(m.params))
        round.exchange.emit({ ...m, params: { ...m.params, progressToken: round.progressToken } });
      return;
    }
    if (m.method === 'notifications/message' && !levelAllows(round.logLevel, m)) return;
    round.exchange.emit(m);
  }

  private serverRequest(m: JsonRpcRequest): void {
    if (m.method === 'ping') return this.session.respond({ jsonrpc: '2.0', id: m.id, result: {} });
    const askable = ASKABLE.get(m.method);
    if (!askable)
      return this.session.respond(
        errorMessage(m.id, { code: -32601, message: `the agent does not support ${m.method}` }),
      );
    if (!(askable.capability in this.capabilities)) {
      // Asking would break the 2026 rule (never ask what the client did not declare): the call
      // ends with -32021 naming the capability, and the upstream hears "not supported".
      this.session.respond(errorMessage(m.id, { code: -32601, message: `the agent does not support ${m.method}` }));
      this.missing ??= new GatewayError(
        'missing_capability',
        `this call needs the client capability ${askable.capability}, which the request did not declare`,
        {
          requiredCapabilities: { [askable.capability]: {} },
        },
      );
      this.abandon(`the agent does not support ${m.method}`);
      this.poke();
      return;
    }
    this.pending.set(`${askable.key}_${this.nextKey++}`, { upstreamId: m.id, method: m.method, params: m.params });
    clearTimeout(this.gathering);
    this.gathering = setTimeout(() => {
      this.gathering = undefined;
      this.poke();
    }, GATHER_MS);
    this.gathering.unref();
  }
}

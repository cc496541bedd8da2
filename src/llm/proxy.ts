// One LLM call, start to end: parse, check the model allow-list, resolve the pool, reserve tokens,
// dispatch (with retries and fallback), then settle usage and write the audit record — before the
// response is released (JSON) or before the final event goes out (streaming). `handle` is that
// pipeline; each step is a function here or in a file of its own (parse-request.ts,
// forward-request.ts, stream-response.ts, refusal.ts). Hot path: the steps are plain calls, and every
// await is in `serve` itself (an async helper would add a promise and a turn per call). `serve`
// answers an LlmAnswer (answer.ts): `handle` makes it a Response for the Hono route, the fast lane
// (fast-lane.ts) writes it to node:http's response.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import type { Logger } from 'pino';
import type { AgentIdentity, AppEnv } from '../http/env.js';
import type { HttpTrace } from '../telemetry/http.js';
import type { AuditRecorder } from '../audit/step.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { LimitStore } from '../limits/store.js';
import type { Encoding, TokenCounter } from '../limits/token-counter.js';
import type { Rate } from '../config/runtime.js';
import type { Reservation } from '../limits/reservation.js';
import type { ApiKind, LlmConfig } from './runtime.js';
import { Health, Resolver, type Pool } from './balancer.js';
import { Budgets } from './budget.js';
import { outputCeiling } from './ceiling.js';
import { dispatch, type Failure, type Success } from './dispatch.js';
import { configuredEncodings, errorBody, type Usage, usageFromBody } from './dialect.js';
import { Pools, readWhole, responseHeaders } from './upstream.js';
import { costUsd, newCallRecord, recordCall, type LlmCallRecord } from './audit.js';
import { readRequest, sha256 } from './request-body.js';
import { toResponse, type LlmAnswer } from './answer.js';
import { parseRequest, wantsUsage } from './parse-request.js';
import { upstreamRequests } from './forward-request.js';
import { answerLost, overLimit, Refusal, upstreamFailed } from './refusal.js';
import { streamResponse } from './stream-response.js';

export interface LlmDeps {
  config: LlmConfig;
  store: LimitStore;
  policies: () => PolicySet;
  recorder: AuditRecorder;
  log: Logger;
  /** Token counter per encoding (share the gateway's); default: made on first use, closed by close(). */
  tokenCounter?: (encoding: Encoding) => TokenCounter;
  /** Gateway-wide request limits (config `limits.global`) that LLM calls also count against. */
  globalRates?: readonly Rate[];
  /** Clock for circuit-breaker cooldowns and retry waits; default Date.now (tests inject one). */
  now?: () => number;
  /** Tracing (src/telemetry/llm.ts): told of every call as its record is written. */
  traced?: ((rec: LlmCallRecord) => void) | undefined;
  /** Called after each completed call, e.g. for metrics (cost in USD when a price is configured). */
  onCall?: (c: {
    agent: string;
    model: string;
    upstream: string;
    input: number;
    output: number;
    costUsd: number | undefined;
  }) => void;
}

export type Op = 'chat' | 'embeddings';

/** One call as the HTTP side hands it over: authenticated, its body being read. */
export interface LlmCall {
  agent: AgentIdentity;
  /** Tracing (when on): the HTTP request's arrival, trace context and authentication times. */
  http: HttpTrace | undefined;
  /** The agent's request headers (lower-case names). */
  headers: IncomingHttpHeaders;
  /** The body, read with the cap (maxBodyBytes): rejects beyond it. */
  body: Promise<Buffer>;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

export class LlmProxy {
  readonly resolver: Resolver;
  readonly health: Health;
  private readonly pools = new Pools();
  private readonly budgets: Budgets;

  constructor(private readonly deps: LlmDeps) {
    const c = deps.config;
    this.resolver = new Resolver(c);
    this.health = new Health(c.breaker.failures, c.breaker.cooldownMs, deps.now ?? Date.now);
    this.budgets = new Budgets({
      store: deps.store,
      policies: deps.policies,
      globalRates: deps.globalRates ?? [],
      tokenCounter: deps.tokenCounter,
    });
  }

  /** The Hono route's handler: the call from the context, its answer as a web Response. */
  handle(c: Context<AppEnv>, kind: ApiKind, op: Op, path: string): Promise<Response> {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    const call: LlmCall = {
      agent: c.get('agent'),
      http: c.get('telemetry'),
      headers: incoming?.headers ?? Object.fromEntries(c.req.raw.headers),
      body: readRequest(c, incoming, this.deps.config.maxBodyBytes),
    };
    return this.serve(call, kind, op, path).then(toResponse);
  }

  async serve(call: LlmCall, kind: ApiKind, op: Op, path: string): Promise<LlmAnswer> {
    const rec = newCallRecord(call.agent, op, call.http);

    // 1. Read the body, bounded: an agent cannot make the gateway buffer more than maxBodyBytes.
    let raw: Buffer;
    try {
      raw = await call.body;
    } catch {
      return this.refuse(rec, kind, new Refusal(413, `request body exceeds ${this.deps.config.maxBodyBytes} bytes`));
    }
    // 2. Parse it, shape checked first: every later decision is taken on this reading.
    const text = raw.toString('utf8');
    const parsed = parseRequest(text);
    if (parsed instanceof Refusal) return this.refuse(rec, kind, parsed);
    const body = parsed.body;
    rec.model = body.model;

    // 3. Route: the agent's model allow-list, then the pool that serves the model through this API.
    const pool = this.route(rec.agent, kind, body.model);
    if (pool instanceof Refusal) return this.refuse(rec, kind, pool);

    // 4. Reserve the worst case (prompt + output ceiling) against the budgets before a byte is sent.
    const ceiling = outputCeiling(op, body, this.deps.config.defaultMaxTokens);
    if (!ceiling.ok) return this.refuse(rec, kind, new Refusal(400, ceiling.message, 'invalid_request'));
    let admission = this.budgets.admit(
      rec.agent.id,
      rec.agent.groups,
      kind,
      op,
      pool.members[0]!.target.model,
      body,
      ceiling,
    );
    if (admission instanceof Promise) admission = await admission; // (not always: a turn per call for nothing)
    if (!admission.ok) return this.refuse(rec, kind, overLimit(admission));
    const reservation = admission.reservation;
    rec.decision = 'allowed';

    // 5. Forward, with retries and fallback across the pool; an OpenAI stream is asked for the usage
    //    the settlement needs even when the agent did not ask (then it is filtered out, sse.ts).
    const stream = op === 'chat' && body.stream === true;
    const agentWantsUsage = wantsUsage(body);
    const addUsage = stream && kind === 'openai' && !agentWantsUsage;
    let r: Success | Failure;
    try {
      r = await dispatch({
        pool,
        health: this.health,
        pools: this.pools,
        retries: this.deps.config.retries,
        stream,
        path,
        request: upstreamRequests(raw, parsed, addUsage, call.headers),
      });
    } catch (err) {
      await reservation?.cancel();
      this.deps.log.error({ err }, 'llm dispatch failed');
      return this.refuse(rec, kind, new Refusal(500, 'internal gateway error'));
    }
    rec.upstream = r.target?.name;
    rec.native = r.target?.model;
    rec.sentAt = r.sentAt;
    if (!r.ok) {
      await reservation?.cancel(); // no answer was produced: the reserved tokens go back
      return this.refuse(rec, kind, upstreamFailed(kind, r));
    }

    // 6a. Streaming: relayed as it comes; usage is settled and the call audited at the stream's end.
    if (stream && r.first && r.rest) return this.streamed(kind, rec, r, reservation, agentWantsUsage);

    // 6b. JSON: read whole, settle the reported usage, and write the record before the answer goes out.
    let out: Buffer;
    try {
      out = await readWhole(r.body, this.deps.config.maxResponseBytes);
    } catch (err) {
      r.done();
      // Consumed upstream, lost on the way: charge the reservation rather than nothing.
      await reservation?.settle(reservation.estimate);
      return this.refuse(rec, kind, answerLost(r.target.name, err, reservation?.estimate));
    }
    r.done();
    const usage = usageFromBody(kind, out);
    const charged = usage ? usage.input + usage.output : (reservation?.estimate ?? 0);
    await reservation?.settle(charged);
    completed(rec, r.status, usage, charged, out);
    await this.audit(rec);
    return { status: r.status, headers: responseHeaders(r.headers), body: out };
  }

  /** The pool for the model, if the agent may use it and this API serves it. */
  private route(agent: AgentIdentity, kind: ApiKind, model: string): Pool | Refusal {
    const decision = this.deps.policies().access(agent).decide('model', model);
    if (!decision.allowed)
      return new Refusal(403, decision.reason, 'model_not_allowed', { decision: 'denied', rule: decision.rule });
    const pool = this.resolver.resolve(kind, model);
    if (pool) return pool;
    const why = this.resolver.known(model)
      ? `model ${model} is not served through this API`
      : `model ${model} does not exist`;
    return new Refusal(404, why, 'model_not_found');
  }

  /** Ends a refused or failed call: its record (a copy, with the reason), then the error answer. */
  private async refuse(rec: LlmCallRecord, kind: ApiKind, x: Refusal): Promise<LlmAnswer> {
    await this.audit({ ...rec, reason: x.message, status: x.status, ...x.extra });
    if (x.body !== undefined) return { status: x.status, headers: { ...x.headers }, body: x.body };
    return {
      status: x.status,
      headers: { ...JSON_HEADERS, ...x.headers },
      body: JSON.stringify(errorBody(kind, x.status, x.message, x.code)),
    };
  }

  /** The streaming answer (stream-response.ts): settled against the reservation at the stream's end. */
  private streamed(
    kind: ApiKind,
    rec: LlmCallRecord,
    r: Success,
    reservation: Reservation | undefined,
    agentWantsUsage: boolean,
  ): LlmAnswer {
    return streamResponse(
      { drainTimeoutMs: this.deps.config.drainTimeoutMs, audit: (rec) => this.audit(rec) },
      kind,
      rec,
      r,
      reservation?.estimate ?? 0,
      agentWantsUsage,
      (n) => reservation?.settle(n) ?? Promise.resolve(),
    );
  }

  /**
   * `rec` is the call's own (a copy, or the call's record at its end): its cost is set on it, not on
   * another copy. Once it is written, tracing and the usage listener hear of the call.
   */
  private audit(rec: LlmCallRecord): Promise<void> {
    const cost = rec.usage
      ? costUsd(this.deps.config.prices, [rec.native, rec.model ?? undefined], rec.usage)
      : undefined;
    rec.costUsd = cost;
    return recordCall(this.deps.recorder, rec, this.onAuditError).then(() => {
      this.deps.traced?.(rec);
      const u = rec.usage;
      if (rec.outcome !== 'ok' || !u || rec.model === null) return;
      this.deps.onCall?.({
        agent: rec.agent.id,
        model: rec.model,
        upstream: rec.upstream ?? '',
        input: u.input,
        output: u.output,
        costUsd: cost,
      });
    });
  }

  private readonly onAuditError = (err: unknown): void => this.deps.log.error({ err }, 'llm audit record failed');

  /** Loads the tokenizers the configured models count with (configuredEncodings); returns them. */
  warmTokenizers(): Encoding[] {
    const encodings = configuredEncodings(this.deps.config);
    this.budgets.warm(encodings);
    return [...encodings];
  }

  async close(): Promise<void> {
    await this.pools.close();
    await this.budgets.close();
  }
}

/** The call's last record: nothing else holds `rec` any more, so it is completed in place. */
function completed(rec: LlmCallRecord, status: number, usage: Usage | undefined, charged: number, out: Buffer): void {
  rec.outcome = 'ok';
  rec.status = status;
  rec.usage = usage;
  rec.charged = charged;
  rec.digest = { bytes: out.length, sha256: sha256(out) };
}

// One LLM call, start to end: parse, check the model allow-list, resolve the pool, reserve tokens,
// dispatch (with retries and fallback), then settle usage and write the audit record — before the
// response is released (JSON) or before the final event goes out (streaming).
import { jsonShapeProblem, LLM_JSON } from '../mcp/json-shape.js';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import type { Logger } from 'pino';
import type { AppEnv } from '../http/env.js';
import type { AuditRecorder } from '../audit/step.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { LimitStore } from '../limits/store.js';
import type { Encoding, TokenCounter } from '../limits/token-counter.js';
import type { Rate } from '../config/runtime.js';
import type { ApiKind, LlmConfig } from './runtime.js';
import { Health, Resolver, type Target } from './balancer.js';
import { Budgets } from './budget.js';
import { outputCeiling } from './ceiling.js';
import { dispatch, type Failure, type Success } from './dispatch.js';
import { configuredEncodings, errorBody, isErrorShape, usageFromBody } from './dialect.js';
import { Pools, TooLargeError, isTimeout, readWhole, requestHeaders, responseHeaders } from './upstream.js';
import { costUsd, recordCall, type LlmCallRecord } from './audit.js';
import { readRequest, sha256 } from './request-body.js';
import { hasDuplicateKeys } from './duplicate-keys.js';
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
type Json = Record<string, unknown>;

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

  async handle(c: Context<AppEnv>, kind: ApiKind, op: Op, path: string): Promise<Response> {
    // Every field from the start, in one shape: the success path completes this object in place
    // (spreading it with five more fields, and adding the cost after, was ~4 µs a call, measured).
    const rec: LlmCallRecord = {
      agent: c.get('agent'),
      op,
      model: null,
      startedAt: Date.now(),
      started: performance.now(),
      upstream: undefined,
      native: undefined,
      decision: 'error',
      reason: undefined,
      rule: undefined,
      outcome: 'is_error',
      status: undefined,
      usage: undefined,
      charged: undefined,
      digest: undefined,
      sentAt: undefined,
      costUsd: undefined,
      http: c.get('telemetry'),
    };
    const fail = async (
      status: number,
      message: string,
      extra: Partial<LlmCallRecord> = {},
      headers: Record<string, string> = {},
      code: string | null = null,
    ): Promise<Response> => {
      await this.audit({ ...rec, reason: message, status, ...extra });
      return new Response(JSON.stringify(errorBody(kind, status, message, code)), {
        status,
        headers: { ...JSON_HEADERS, ...headers },
      });
    };
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    let raw: Buffer;
    try {
      raw = await readRequest(c, incoming, this.deps.config.maxBodyBytes);
    } catch {
      return fail(413, `request body exceeds ${this.deps.config.maxBodyBytes} bytes`);
    }
    let body: Json;
    const text = raw.toString('utf8');
    const shapeProblem = jsonShapeProblem(text, LLM_JSON);
    if (shapeProblem !== undefined) return fail(400, `the request body is refused: ${shapeProblem}`);
    try {
      body = JSON.parse(text) as Json;
    } catch {
      return fail(400, 'the request body is not valid JSON');
    }
    if (typeof body !== 'object' || body === null || typeof body.model !== 'string')
      return fail(400, 'the request names no model');
    const model = body.model;
    rec.model = model;

    const decision = this.deps.policies().access(rec.agent).decide('model', model);
    if (!decision.allowed)
      return fail(403, decision.reason, { decision: 'denied', rule: decision.rule }, {}, 'model_not_allowed');
    const pool = this.resolver.resolve(kind, model);
    if (!pool) {
      const why = this.resolver.known(model)
        ? `model ${model} is not served through this API`
        : `model ${model} does not exist`;
      return fail(404, why, {}, {}, 'model_not_found');
    }

    const ceiling = outputCeiling(op, body, this.deps.config.defaultMaxTokens);
    if (!ceiling.ok) return fail(400, ceiling.message, {}, {}, 'invalid_request');
    let admission = this.budgets.admit(rec.agent.id, kind, op, pool.members[0]!.target.model, body, ceiling);
    if (admission instanceof Promise) admission = await admission; // (not always: a turn per call for nothing)
    if (!admission.ok)
      return fail(
        429,
        admission.reason,
        { decision: admission.decision, rule: admission.rule },
        admission.headers,
        admission.decision,
      );
    const reservation = admission.reservation;
    rec.decision = 'allowed';

    const stream = op === 'chat' && body.stream === true;
    const so = body.stream_options;
    const agentWantsUsage = typeof so === 'object' && so !== null && (so as Json).include_usage === true;
    const addUsage = stream && kind === 'openai' && !agentWantsUsage;
    const bodies = new Map<string, Buffer>();
    const headers = new Map<string, Record<string, string>>();
    const agentHeaders: IncomingHttpHeaders = incoming?.headers ?? Object.fromEntries(c.req.raw.headers);
    let duplicated: boolean | undefined;
    const request = (t: Target): { headers: Record<string, string>; body: Buffer } => {
      let b = bodies.get(t.model);
      if (!b) {
        // Only the model name (and, streaming, the usage option) changes; unchanged bodies go as
        // received, unless a key is named twice: then the upstream gets the reading judged here.
        const asReceived = t.model === model && !addUsage && !(duplicated ??= hasDuplicateKeys(text));
        b = asReceived
          ? raw
          : Buffer.from(
              JSON.stringify({
                ...body,
                model: t.model,
                ...(addUsage ? { stream_options: { ...(so as Json | undefined), include_usage: true } } : {}),
              }),
            );
        bodies.set(t.model, b);
      }
      let h = headers.get(t.name);
      if (!h) headers.set(t.name, (h = requestHeaders(agentHeaders, t.upstream.config)));
      return { headers: h, body: b };
    };

    let r: Success | Failure;
    try {
      r = await dispatch({
        pool,
        health: this.health,
        pools: this.pools,
        retries: this.deps.config.retries,
        stream,
        path,
        request,
      });
    } catch (err) {
      await reservation?.cancel();
      this.deps.log.error({ err }, 'llm dispatch failed');
      return fail(500, 'internal gateway error');
    }
    if (!r.ok) {
      await reservation?.cancel();
      rec.upstream = r.target?.name;
      rec.native = r.target?.model;
      rec.sentAt = r.sentAt;
      // The upstream answered in the API's shape: the agent gets that answer as it is.
      if (r.body !== undefined && isErrorShape(kind, r.body)) {
        await this.audit({ ...rec, decision: 'allowed', outcome: 'is_error', status: r.status, reason: r.message });
        return new Response(r.body, { status: r.status, headers: responseHeaders(r.headers) });
      }
      const extra: Partial<LlmCallRecord> = {
        decision: r.body !== undefined ? 'allowed' : 'error',
        outcome: r.timeout ? 'timeout' : 'is_error',
      };
      const keep: Record<string, string> =
        r.headers['retry-after'] !== undefined ? { 'retry-after': String(r.headers['retry-after']) } : {};
      return fail(r.status, r.message, extra, keep);
    }

    rec.upstream = r.target.name;
    rec.native = r.target.model;
    rec.sentAt = r.sentAt;
    if (stream && r.first && r.rest)
      return streamResponse(
        { drainTimeoutMs: this.deps.config.drainTimeoutMs, audit: (rec) => this.audit(rec) },
        kind,
        rec,
        r,
        reservation?.estimate ?? 0,
        agentWantsUsage,
        (n) => reservation?.settle(n) ?? Promise.resolve(),
      );

    let out: Buffer;
    try {
      out = await readWhole(r.body, this.deps.config.maxResponseBytes);
    } catch (err) {
      r.done();
      // Consumed upstream, lost on the way: charge the reservation rather than nothing.
      await reservation?.settle(reservation.estimate);
      const timeout = isTimeout(err);
      const why =
        err instanceof TooLargeError
          ? `upstream ${r.target.name} answered more than ${err.maxBytes} bytes`
          : timeout
            ? `upstream ${r.target.name} timed out while sending its answer`
            : `upstream ${r.target.name} failed while sending its answer`;
      return fail(timeout ? 504 : 502, why, {
        decision: 'allowed',
        outcome: timeout ? 'timeout' : 'is_error',
        charged: reservation?.estimate,
      });
    }
    r.done();
    const usage = usageFromBody(kind, out);
    const charged = usage ? usage.input + usage.output : (reservation?.estimate ?? 0);
    await reservation?.settle(charged);
    // The call's last record: nothing else holds `rec` any more, so it is completed in place.
    rec.outcome = 'ok';
    rec.status = r.status;
    rec.usage = usage;
    rec.charged = charged;
    rec.digest = { bytes: out.length, sha256: sha256(out) };
    await this.audit(rec);
    return new Response(out, { status: r.status, headers: responseHeaders(r.headers) });
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

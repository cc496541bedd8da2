// Token budgets for LLM calls: count the prompt, reserve prompt + the output ceiling (choices ×
// tokens per choice, ceiling.ts) and one unit of each request limit in one all-or-nothing check,
// settle with the reported usage afterwards.
import type { Rate } from '../config/runtime.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { RequestPlan } from '../limits/plan.js';
import { PlanCache } from '../limits/plan-cache.js';
import { reserve, type Reservation } from '../limits/reservation.js';
import type { LimitStore } from '../limits/store.js';
import { createTokenCounter, type Encoding, type TokenCounter } from '../limits/token-counter.js';
import { encodingFor, joinedLength, promptText } from './dialect.js';
import { PromptCounts } from './prompt-counts.js';
import type { Ceiling } from './ceiling.js';
import type { ApiKind } from './runtime.js';

export interface BudgetOptions {
  store: LimitStore;
  policies: () => PolicySet;
  globalRates: readonly Rate[];
  /** A counter per encoding; default: made on first use and closed by `close`. */
  tokenCounter: ((encoding: Encoding) => TokenCounter) | undefined;
}

export type Admission =
  | { ok: true; reservation: Reservation | undefined }
  | {
      ok: false;
      decision: 'budget_exceeded' | 'rate_limited';
      rule: string;
      reason: string;
      headers: Record<string, string>;
    };

// Framing tokens per chat message and per reply (OpenAI's documented counting recipe).
const PER_MESSAGE = 4;
const PER_REPLY = 3;

type Output = Extract<Ceiling, { ok: true }>;

// What planRequest is told of an LLM call; constants, so that cached plans are found by identity.
const LLM_CALL = { server: 'llm', tool: undefined };
const NO_SERVER_RATES: readonly Rate[] = [];
const UNLIMITED: Admission = { ok: true, reservation: undefined };

const breakdown = (prompt: number, o: Output): string =>
  o.tokens === 0 ? `prompt ${prompt}` : `prompt ${prompt} + ${o.choices} × ${o.perChoice} output`;

export class Budgets {
  private readonly own = new Map<Encoding, TokenCounter>();
  /** An agent's plan is the same for every call until its policy changes: made once, not per call. */
  private readonly plans = new PlanCache();
  private readonly counts = new PromptCounts((e) => this.counter(e));

  constructor(private readonly o: BudgetOptions) {}

  private counter(e: Encoding): TokenCounter {
    if (this.o.tokenCounter) return this.o.tokenCounter(e);
    let c = this.own.get(e);
    if (!c) this.own.set(e, (c = createTokenCounter(e)));
    return c;
  }

  /** Loads these encoders now (start-up), not on an agent's first call. */
  warm(encodings: Iterable<Encoding>): void {
    for (const e of encodings) this.counter(e).warm();
  }

  /**
   * Prompt tokens: tiktoken for OpenAI families, ~4 characters per token otherwise. A number when
   * the prompt's pieces were counted before for this agent or are short (prompt-counts.ts), else a
   * promise.
   */
  promptTokens(
    agentId: string,
    kind: ApiKind,
    op: 'chat' | 'embeddings',
    model: string,
    body: Record<string, unknown>,
  ): number | Promise<number> {
    const { parts, messages, tokenIds } = promptText(kind, op, body);
    const framing = tokenIds + (op === 'chat' ? PER_MESSAGE * messages + PER_REPLY : 0);
    const enc = kind === 'openai' ? encodingFor(model) : undefined;
    // Text the encoder rejects still costs something: estimate ~4 characters per token.
    const estimate = (): number => framing + Math.ceil(joinedLength(parts) / 4);
    if (!enc) return estimate();
    const n = this.counts.count(agentId, enc, parts);
    if (typeof n === 'number') return n >= 0 ? framing + n : estimate();
    return n.then((x) => (x >= 0 ? framing + x : estimate()));
  }

  /**
   * Reserves against the agent's token budgets (and request limits): prompt + `output.tokens`.
   * Counting is skipped when the agent has no budget; `countModel` picks the tokenizer (the
   * upstream model the alias maps to). Not async: an agent without limits, or with request limits
   * only on the memory store, is admitted in this turn; otherwise one promise, not an async
   * function's and its awaits'.
   */
  admit(
    agentId: string,
    groups: readonly string[] | undefined,
    kind: ApiKind,
    op: 'chat' | 'embeddings',
    countModel: string,
    body: Record<string, unknown>,
    output: Output,
  ): Admission | Promise<Admission> {
    const plan = this.plans.plan(
      agentId,
      this.o.policies().limitsFor(agentId, groups),
      LLM_CALL,
      NO_SERVER_RATES,
      this.o.globalRates,
    );
    if (plan.tokens.length === 0 && plan.requests.length === 0) return UNLIMITED;
    if (plan.tokens.length === 0) return this.reserve(plan, 0, output);
    const prompt = this.promptTokens(agentId, kind, op, countModel, body);
    return typeof prompt === 'number'
      ? this.reserve(plan, prompt, output)
      : prompt.then((n) => this.reserve(plan, n, output));
  }

  private reserve(plan: RequestPlan, prompt: number, output: Output): Admission | Promise<Admission> {
    const estimate = plan.tokens.length === 0 ? 0 : prompt + output.tokens;
    // A reservation above the smallest budget can never fit: ask the store for one token more than
    // that (it answers "never", with the usual headers) instead of an unbounded cost.
    let smallest = Infinity;
    for (const k of plan.tokens) if (k.limit < smallest) smallest = k.limit;
    const r = reserve(this.o.store, plan.tokens, Math.min(estimate, smallest + 1), plan.requests);
    return r instanceof Promise
      ? r.then((x) => admission(x, plan, prompt, estimate, output))
      : admission(r, plan, prompt, estimate, output);
  }

  async close(): Promise<void> {
    await Promise.all([...this.own.values()].map((c) => c.close()));
    this.own.clear();
  }
}

function admission(r: Reservation, plan: RequestPlan, prompt: number, estimate: number, output: Output): Admission {
  if (r.allowed) return { ok: true, reservation: r };
  const res = r.result;
  const hit = res.results.find((k) => !k.allowed);
  const token = plan.tokens.find((k) => k.key === hit?.key);
  const rule = token?.name ?? plan.requests.find((k) => k.key === hit?.key)?.name ?? 'limit';
  const decision = token ? 'budget_exceeded' : 'rate_limited';
  const reason =
    res.reason === 'store_unavailable'
      ? 'the limits store is unavailable'
      : res.reason === 'cost_exceeds_limit' || res.retryAfterMs < 0
        ? `the request needs up to ${estimate} tokens (${breakdown(prompt, output)}), more than the budget allows (${rule}); ${output.tokens > 0 ? `lower max_tokens${output.choices > 1 ? ' or n' : ''}` : 'send less input'}`
        : token
          ? `token budget spent (${rule})`
          : `rate limit reached (${rule})`;
  const headers: Record<string, string> = {};
  if (res.retryAfterMs >= 0) headers['retry-after'] = String(Math.max(1, Math.ceil(res.retryAfterMs / 1000)));
  if (hit) {
    headers['ratelimit-limit'] = String(hit.limit);
    headers['ratelimit-remaining'] = String(Math.max(0, Math.floor(hit.remaining)));
    headers['ratelimit-reset'] = String(
      Math.max(0, Math.ceil((res.retryAfterMs >= 0 ? res.retryAfterMs : hit.resetMs) / 1000)),
    );
  }
  return { ok: false, decision, rule, reason, headers };
}

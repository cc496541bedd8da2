// Token budgets for LLM calls: count the prompt, reserve prompt + the output ceiling (choices ×
// tokens per choice, ceiling.ts) and one unit of each request limit in one all-or-nothing check,
// settle with the reported usage afterwards.
import type { Rate } from '../config/runtime.js';
import type { PolicySet } from '../policy/policy-set.js';
import { planRequest } from '../limits/plan.js';
import { reserve, type Reservation } from '../limits/reservation.js';
import type { LimitStore } from '../limits/store.js';
import { createTokenCounter, type Encoding, type TokenCounter } from '../limits/token-counter.js';
import { encodingFor, promptText } from './dialect.js';
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

const breakdown = (prompt: number, o: Extract<Ceiling, { ok: true }>): string =>
  o.tokens === 0 ? `prompt ${prompt}` : `prompt ${prompt} + ${o.choices} × ${o.perChoice} output`;

export class Budgets {
  private readonly own = new Map<Encoding, TokenCounter>();

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

  /** Prompt tokens: tiktoken for OpenAI families, ~4 characters per token otherwise. */
  async promptTokens(
    kind: ApiKind,
    op: 'chat' | 'embeddings',
    model: string,
    body: Record<string, unknown>,
  ): Promise<number> {
    const { text, messages, tokenIds } = promptText(kind, op, body);
    const enc = kind === 'openai' ? encodingFor(model) : undefined;
    const n = tokenIds + (enc ? await this.counter(enc).count(text) : Math.ceil(text.length / 4));
    return op === 'chat' ? n + PER_MESSAGE * messages + PER_REPLY : n;
  }

  /**
   * Reserves against the agent's token budgets (and request limits): prompt + `output.tokens`.
   * Counting is skipped when the agent has no budget; `countModel` picks the tokenizer (the
   * upstream model the alias maps to).
   */
  async admit(
    agentId: string,
    kind: ApiKind,
    op: 'chat' | 'embeddings',
    countModel: string,
    body: Record<string, unknown>,
    output: Extract<Ceiling, { ok: true }>,
  ): Promise<Admission> {
    const plan = planRequest(
      agentId,
      this.o.policies().limitsFor(agentId),
      { server: 'llm', tool: undefined },
      [],
      this.o.globalRates,
    );
    if (plan.tokens.length === 0 && plan.requests.length === 0) return { ok: true, reservation: undefined };
    const prompt = plan.tokens.length === 0 ? 0 : await this.promptTokens(kind, op, countModel, body);
    const estimate = plan.tokens.length === 0 ? 0 : prompt + output.tokens;
    // A reservation above the smallest budget can never fit: ask the store for one token more than
    // that (it answers "never", with the usual headers) instead of an unbounded cost.
    const smallest = Math.min(...plan.tokens.map((k) => k.limit));
    const r = await reserve(this.o.store, plan.tokens, Math.min(estimate, smallest + 1), plan.requests);
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

  async close(): Promise<void> {
    await Promise.all([...this.own.values()].map((c) => c.close()));
    this.own.clear();
  }
}

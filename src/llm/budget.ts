// Token budgets for LLM calls: count the prompt, reserve prompt + the output ceiling (and one unit
// of each request limit) in one all-or-nothing check, settle with the reported usage afterwards.
import type { Rate } from '../config/runtime.js';
import type { PolicySet } from '../policy/policy-set.js';
import { planRequest } from '../limits/plan.js';
import { reserve, type Reservation } from '../limits/reservation.js';
import type { LimitStore } from '../limits/store.js';
import { createTokenCounter, type Encoding, type TokenCounter } from '../limits/token-counter.js';
import { encodingFor, maxOutputTokens, promptText } from './dialect.js';
import type { ApiKind } from './runtime.js';

export interface BudgetOptions {
  store: LimitStore;
  policies: () => PolicySet;
  globalRates: readonly Rate[];
  defaultMaxTokens: number;
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
    const { text, messages } = promptText(kind, op, body);
    const enc = kind === 'openai' ? encodingFor(model) : undefined;
    const n = enc ? await this.counter(enc).count(text) : Math.ceil(text.length / 4);
    return op === 'chat' ? n + PER_MESSAGE * messages + PER_REPLY : n;
  }

  /**
   * Reserves against the agent's token budgets (and request limits). Counting is skipped when the
   * agent has no budget; `countModel` picks the tokenizer (the upstream model the alias maps to).
   */
  async admit(
    agentId: string,
    kind: ApiKind,
    op: 'chat' | 'embeddings',
    countModel: string,
    body: Record<string, unknown>,
  ): Promise<Admission> {
    const plan = planRequest(
      agentId,
      this.o.policies().limitsFor(agentId),
      { server: 'llm', tool: undefined },
      [],
      this.o.globalRates,
    );
    if (plan.tokens.length === 0 && plan.requests.length === 0) return { ok: true, reservation: undefined };
    const estimate =
      plan.tokens.length === 0
        ? 0
        : (await this.promptTokens(kind, op, countModel, body)) +
          (op === 'chat' ? (maxOutputTokens(body) ?? this.o.defaultMaxTokens) : 0);
    const r = await reserve(this.o.store, plan.tokens, estimate, plan.requests);
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
          ? `the request needs up to ${estimate} tokens, more than the budget allows (${rule}); lower max_tokens`
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

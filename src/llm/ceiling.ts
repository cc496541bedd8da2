// The most output a request may make the upstream produce (and bill): choices × tokens per choice.
// Every multiplier the APIs have is counted, because an agent that leaves one out of the
// reservation can spend many times its budget (64 calls with `max_tokens: 100, n: 50` were billed
// 320 640 tokens against a 10 000-token budget when only max_tokens was reserved):
// - OpenAI chat: `n` choices, each up to `max_completion_tokens` or the older `max_tokens`;
// - OpenAI completions-style `best_of` (generated server-side, billed even though one is returned;
//   OpenAI-compatible servers such as vLLM accept it on chat too, and bodies pass through);
// - Anthropic messages: `max_tokens`, no choices (an `n` is still counted if an agent sends one:
//   an Anthropic-compatible upstream may honour it);
// - `max_output_tokens` (Responses-style) is read as a ceiling too.
// When several ceilings are given the largest counts (upstreams differ in which one wins); with
// none, `default_max_tokens`. Embeddings produce no output tokens (their inputs are counted as the
// prompt). Values an API would reject anyway are refused here with a 400, which also bounds the
// arithmetic (no unsafe integers reach the limit store).

/** OpenAI's documented maximum for `n`; also the bound for `best_of`. */
export const MAX_CHOICES = 128;
/** Far above any model's output window; keeps choices × tokens a safe integer. */
export const MAX_OUTPUT_TOKENS = 100_000_000;

export type Ceiling = { ok: true; choices: number; perChoice: number; tokens: number } | { ok: false; message: string };

type Json = Record<string, unknown>;

const CEILINGS = ['max_completion_tokens', 'max_tokens', 'max_output_tokens'] as const;
const MULTIPLIERS = ['n', 'best_of'] as const;

/** An optional integer field: undefined when absent or null, an error text when out of [min, max]. */
function intField(body: Json, name: string, min: number, max: number): number | undefined | string {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    return `${name} must be an integer from ${min} to ${max}`;
  return v;
}

export function outputCeiling(op: 'chat' | 'embeddings', body: Json, defaultMaxTokens: number): Ceiling {
  if (op === 'embeddings') return { ok: true, choices: 1, perChoice: 0, tokens: 0 };
  let perChoice: number | undefined;
  for (const name of CEILINGS) {
    const v = intField(body, name, 0, MAX_OUTPUT_TOKENS);
    if (typeof v === 'string') return { ok: false, message: v };
    if (v !== undefined) perChoice = Math.max(perChoice ?? 0, v);
  }
  let choices = 1;
  for (const name of MULTIPLIERS) {
    const v = intField(body, name, 1, MAX_CHOICES);
    if (typeof v === 'string') return { ok: false, message: v };
    if (v !== undefined) choices = Math.max(choices, v);
  }
  const per = perChoice ?? defaultMaxTokens;
  return { ok: true, choices, perChoice: per, tokens: choices * per };
}

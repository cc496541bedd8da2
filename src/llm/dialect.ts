// What differs between the OpenAI and Anthropic APIs: error bodies, where usage is reported, what
// text a prompt holds (for the token estimate), and which tokenizer a model name implies.
import type { ApiKind, LlmConfig } from './runtime.js';
import type { Encoding } from '../limits/token-counter.js';

export interface Usage {
  input: number;
  output: number;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

function openaiType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 504) return 'timeout';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

function anthropicType(status: number): string {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 504:
      return 'timeout_error';
    case 529:
      return 'overloaded_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/** An error body in the API's own shape. */
export function errorBody(kind: ApiKind, status: number, message: string, code: string | null = null): Json {
  if (kind === 'anthropic') return { type: 'error', error: { type: anthropicType(status), message } };
  return { error: { message, type: openaiType(status), param: null, code } };
}

/** Whether an upstream error body already has the API's shape (then it reaches the agent as is). */
export function isErrorShape(kind: ApiKind, body: Buffer | undefined): boolean {
  if (!body || body.length === 0) return false;
  try {
    const v = JSON.parse(body.toString('utf8')) as unknown;
    if (!isObj(v)) return false;
    return kind === 'anthropic' ? v.type === 'error' && isObj(v.error) : isObj(v.error);
  } catch {
    return false;
  }
}

/** One SSE error event, for failures after the stream started (the SDKs raise these as errors). */
export function streamErrorEvent(kind: ApiKind, message: string): Buffer {
  const body = JSON.stringify(errorBody(kind, 502, message));
  return Buffer.from(kind === 'anthropic' ? `event: error\ndata: ${body}\n\n` : `data: ${body}\n\n`);
}

/** Usage from a usage object of either API (Anthropic's cache tokens are input too). */
export function usageOf(kind: ApiKind, u: unknown): Usage | undefined {
  if (!isObj(u)) return undefined;
  if (kind === 'anthropic') {
    return {
      input: num(u.input_tokens) + num(u.cache_creation_input_tokens) + num(u.cache_read_input_tokens),
      output: num(u.output_tokens),
    };
  }
  return { input: num(u.prompt_tokens), output: num(u.completion_tokens) };
}

const USAGE_KEY = Buffer.from('"usage"');

/**
 * Usage from a whole JSON response body. Both APIs put `usage` at the top level after the content,
 * so the last `"usage"` key is parsed alone (a long answer is not parsed for one small object);
 * anything unexpected falls back to parsing the whole body.
 */
export function usageFromBody(kind: ApiKind, body: Buffer): Usage | undefined {
  const at = body.lastIndexOf(USAGE_KEY);
  if (at === -1) return undefined;
  const open = body.indexOf(0x7b /* { */, at + USAGE_KEY.length);
  const close = open === -1 ? -1 : matchingBrace(body, open);
  if (close !== -1) {
    try {
      const u = JSON.parse(body.toString('utf8', open, close + 1)) as Json;
      if (typeof u[kind === 'anthropic' ? 'input_tokens' : 'prompt_tokens'] === 'number') return usageOf(kind, u);
    } catch {
      // fall through to the whole body
    }
  }
  try {
    const v = JSON.parse(body.toString('utf8')) as unknown;
    return isObj(v) ? usageOf(kind, v.usage) : undefined;
  } catch {
    return undefined;
  }
}

/** Index of the `}` closing the object that opens at `open` (strings skipped), or -1. */
function matchingBrace(b: Buffer, open: number): number {
  let depth = 0;
  for (let i = open; i < b.length; i++) {
    const c = b[i];
    if (c === 0x22 /* " */) {
      for (i++; i < b.length && b[i] !== 0x22; i++) if (b[i] === 0x5c /* \ */) i++;
    } else if (c === 0x7b) depth++;
    else if (c === 0x7d && --depth === 0) return i;
  }
  return -1;
}

function pushContent(out: string[], content: unknown): void {
  if (typeof content === 'string') {
    out.push(content);
    return;
  }
  if (!Array.isArray(content)) return;
  for (const part of content) {
    if (!isObj(part)) continue;
    if (typeof part.text === 'string') out.push(part.text);
    if (part.type === 'tool_use' || part.type === 'tool_result')
      out.push(JSON.stringify(part.input ?? part.content ?? ''));
  }
}

/**
 * The prompt's text as the model will read it, in parts (the text is `parts.join('\n')`; roughly:
 * tokens for message framing are added by the caller), and the count of inputs already given as
 * token ids (embeddings: an array of token ids, or an array of such arrays, each id one token).
 */
export function promptText(
  kind: ApiKind,
  op: 'chat' | 'embeddings',
  body: Json,
): { parts: string[]; messages: number; tokenIds: number } {
  const out: string[] = [];
  if (op === 'embeddings') {
    const input = body.input;
    let tokenIds = 0;
    if (typeof input === 'string') out.push(input);
    else if (Array.isArray(input))
      for (const x of input) {
        if (typeof x === 'string') out.push(x);
        else if (Array.isArray(x)) tokenIds += x.length;
        else if (typeof x === 'number') tokenIds++;
      }
    return { parts: out, messages: 0, tokenIds };
  }
  if (kind === 'anthropic') pushContent(out, body.system);
  const messages = Array.isArray(body.messages) ? (body.messages as unknown[]) : [];
  for (const m of messages) {
    if (!isObj(m)) continue;
    pushContent(out, m.content);
    if (Array.isArray(m.tool_calls)) out.push(JSON.stringify(m.tool_calls));
  }
  // Definitions the model reads as input and the upstream bills as such: tools (both APIs), the
  // older OpenAI `functions`, and a structured-output schema.
  if (Array.isArray(body.tools)) out.push(JSON.stringify(body.tools));
  if (Array.isArray(body.functions)) out.push(JSON.stringify(body.functions));
  if (isObj(body.response_format)) out.push(JSON.stringify(body.response_format));
  return { parts: out, messages: messages.length, tokenIds: 0 };
}

/** The length of `parts.join('\n')`, without joining them. */
export function joinedLength(parts: readonly string[]): number {
  let n = parts.length > 0 ? parts.length - 1 : 0;
  for (const p of parts) n += p.length;
  return n;
}

/** The tiktoken encoding for an OpenAI model family; undefined means estimate (Claude, unknown). */
export function encodingFor(model: string): Encoding | undefined {
  const m = model.slice(model.lastIndexOf('/') + 1).toLowerCase();
  if (/^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|o\d)/.test(m)) return 'o200k_base';
  if (/^(gpt-4|gpt-3\.5|text-embedding-3|text-embedding-ada-002)/.test(m)) return 'cl100k_base';
  return undefined;
}

/** The tokenizers the configured OpenAI models count with (an upstream without a model list may serve any: the current family's o200k_base). */
export function configuredEncodings(c: LlmConfig): Set<Encoding> {
  const models = [
    ...c.upstreams.flatMap((u) => (u.kind === 'openai' ? u.models : [])),
    ...c.aliases.flatMap((a) => a.deployments.map((d) => d.model)),
  ];
  const encodings = new Set(models.map(encodingFor).filter((e): e is Encoding => e !== undefined));
  if (c.upstreams.some((u) => u.kind === 'openai' && u.models.length === 0)) encodings.add('o200k_base');
  return encodings;
}

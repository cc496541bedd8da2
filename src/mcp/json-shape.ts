// Bounds on the shape of JSON text, checked before JSON.parse in one linear pass that never
// recurses. Parsing is not the cheap step it looks: V8 took 1.4 s on one object of 220 000 keys
// (10 000 keys: ~30 ms; the same keys spread over small objects: ~45 ms) and seconds on 1.9 M
// nested arrays, blocking every other agent meanwhile. And every walk after the parse (redaction,
// canonical JSON, rewriting) recurses: bounded depth keeps them off the stack limit.

export interface JsonShapeLimits {
  /** Nesting of objects and arrays. */
  maxDepth: number;
  /** Keys of one object. */
  maxKeys: number;
  /** Keys and array elements in the whole text. */
  maxValues: number;
}

/** What an agent may send in one message (README: "Limits of what a client may send"). */
export const AGENT_JSON: JsonShapeLimits = { maxDepth: 128, maxKeys: 10_000, maxValues: 100_000 };
/** What an upstream may send in one message: results can be large (max_response_bytes bounds their bytes). */
export const UPSTREAM_JSON: JsonShapeLimits = { maxDepth: 128, maxKeys: 10_000, maxValues: 1_000_000 };
/**
 * What an agent may send to the LLM API: embeddings carry long token-id arrays (cheap to parse), so
 * values are bounded by the body cap alone; depth and keys per object are what stall a parse.
 */
export const LLM_JSON: JsonShapeLimits = { maxDepth: 128, maxKeys: 10_000, maxValues: Number.MAX_SAFE_INTEGER };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Keys counted per open level, shared by every check (they are synchronous, so never overlap): a
 * new Int32Array of 129 entries per message is an off-heap allocation V8 tracks and sweeps, twice
 * per relayed call. Levels are reset as they open and the top level at the start, so nothing
 * needs clearing between checks.
 */
let keysScratch = new Int32Array(129);

/**
 * Where the JSON string opened by the quote at `open` ends (its closing quote), or -1 when it does
 * not: found with indexOf, so a string's content is never looked at char by char.
 */
export function stringEnd(text: string, open: number): number {
  let q = open;
  for (;;) {
    q = text.indexOf('"', q + 1);
    if (q < 0) return -1;
    let b = q - 1;
    while (text.charCodeAt(b) === BACKSLASH) b--;
    if ((q - 1 - b) % 2 === 0) return q; // an even run of backslashes: the quote ends the string
  }
}

/**
 * Why `text` exceeds the limits, or undefined. Strings are skipped with indexOf (their content is
 * never looked at char by char); malformed text is left for JSON.parse to refuse.
 */
export function jsonShapeProblem(text: string, limits: JsonShapeLimits): string | undefined {
  const n = text.length;
  // Every level, key and element costs at least one character.
  if (n <= limits.maxDepth && n <= limits.maxKeys && n <= limits.maxValues) return undefined;
  if (keysScratch.length <= limits.maxDepth) keysScratch = new Int32Array(limits.maxDepth + 1);
  const keys = keysScratch;
  keys[0] = 0;
  let depth = 0;
  let values = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(text, i);
      if (i < 0) return undefined; // unterminated string: not JSON
    } else if (c === 0x7b || c === 0x5b) {
      // { [
      if (depth === limits.maxDepth) return `message nests deeper than ${limits.maxDepth} levels`;
      keys[++depth] = 0;
      if (++values > limits.maxValues)
        return `message has more than ${limits.maxValues} values (keys and array elements)`;
    } else if (c === 0x7d || c === 0x5d) {
      if (depth > 0) depth--;
    } else if (c === 0x3a) {
      // a key
      if (++(keys[depth] as number) > limits.maxKeys)
        return `an object in the message has more than ${limits.maxKeys} keys`;
    } else if (c === 0x2c) {
      if (++values > limits.maxValues)
        return `message has more than ${limits.maxValues} values (keys and array elements)`;
    }
  }
  return undefined;
}

export type Parsed = { value: unknown } | { shape: string } | { invalid: true };

/** JSON.parse behind the shape check: `shape` names the limit exceeded, `invalid` is not JSON. */
export function parseBounded(text: string, limits: JsonShapeLimits): Parsed {
  const shape = jsonShapeProblem(text, limits);
  if (shape) return { shape };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return { invalid: true };
  }
}

// One pass over an LLM request body before JSON.parse: the shape bounds of src/mcp/json-shape.ts
// (LLM_JSON: depth and keys per object; the same refusals, word for word) and the number of keys
// in the text. After the parse, fewer keys in the value than in the text means an object named a
// key twice (JSON.parse keeps the last): see duplicate-keys.ts. One pass, not the two the shape
// check and a separate duplicate-key scan took (~100 µs each on a 50 KB conversation, measured).
import { LLM_JSON, stringEnd } from '../mcp/json-shape.js';

const QUOTE = 0x22;
const MAX_DEPTH = LLM_JSON.maxDepth;
const MAX_KEYS = LLM_JSON.maxKeys;
const MAX_VALUES = LLM_JSON.maxValues;

const tooManyValues = `message has more than ${MAX_VALUES} values (keys and array elements)`;

/** Keys counted per open level (the scan is synchronous, so one array serves every call). */
const keysAt = new Int32Array(MAX_DEPTH + 1);

/**
 * Why the text exceeds LLM_JSON's bounds (a string, as jsonShapeProblem words it), else the number
 * of object keys in it. Strings are skipped with indexOf; malformed text is left for JSON.parse to
 * refuse.
 */
export function scanBody(text: string): string | number {
  const n = text.length;
  keysAt[0] = 0;
  let depth = 0;
  let keys = 0;
  let values = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(text, i);
      if (i < 0) return keys; // unterminated string: not JSON
    } else if (c === 0x7b || c === 0x5b) {
      // { [
      if (depth === MAX_DEPTH) return `message nests deeper than ${MAX_DEPTH} levels`;
      keysAt[++depth] = 0;
      if (++values > MAX_VALUES) return tooManyValues;
    } else if (c === 0x7d || c === 0x5d) {
      if (depth > 0) depth--;
    } else if (c === 0x3a) {
      // a key
      keys++;
      if (++(keysAt[depth] as number) > MAX_KEYS) return `an object in the message has more than ${MAX_KEYS} keys`;
    } else if (c === 0x2c) {
      if (++values > MAX_VALUES) return tooManyValues;
    }
  }
  return keys;
}

/** The keys of every object in a parsed JSON value (its depth is bounded: scanBody ran first). */
export function keysIn(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0;
  let n = 0;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x === 'object' && x !== null) n += keysIn(x);
    }
    return n;
  }
  // Own keys only (Object.keys): nothing inherited can make up for a key the parse dropped.
  const names = Object.keys(v);
  n = names.length;
  for (let i = 0; i < names.length; i++) {
    const x = (v as Record<string, unknown>)[names[i] as string];
    if (typeof x === 'object' && x !== null) n += keysIn(x);
  }
  return n;
}

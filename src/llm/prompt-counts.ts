// Prompt token counts, remembered per piece of the prompt. An agent's calls re-send the same system
// prompt, tool definitions and conversation so far, with a little more each time; tiktoken costs
// ~1.5 µs per token (a 20 000-token conversation: ~30 ms of CPU per call, on a worker thread or
// not), so each piece is counted once and its count looked up on the calls after.
//
// The count stays exactly what counting the whole prompt text (its parts joined with '\n') gives:
// tiktoken splits a text into pieces with a regular expression before encoding each piece, and at
// a '\n' that is not followed by '/', nor by whitespace that runs into another '\r' or '\n', every
// piece of both encodings ends (`\s*[\r\n]+` stops there; punctuation's `[\r\n/]*` too; words and
// numbers never take a newline), so the text before and after it are encoded independently.
// Prompts are cut only at such joins (test: prompt-counts.test.ts checks it against whole counts).
//
// Keys are per agent: a lookup is faster for a piece seen before, and one agent must not learn
// from the timing whether another sent a text.
import { sha256Hex } from '../sha256.js';
import type { Encoding, TokenCounter } from '../limits/token-counter.js';

/** Pieces up to this long are their own key; longer ones are keyed by their SHA-256. */
const RAW_KEY_CHARS = 1024;
/** One generation of the cache: at most this many entries and key characters (two are kept). */
const GENERATION_ENTRIES = 8192;
const GENERATION_CHARS = 2_000_000;

/**
 * Whether the characters from parts[i] on (the parts joined by '\n') start with a character before
 * which tiktoken always ends a piece when a '\n' precedes it: not '/', and not whitespace that
 * reaches a '\r' or '\n' (a join's '\n' included).
 */
export function cutsBefore(parts: readonly string[], i: number): boolean {
  const p = parts[i]!;
  if (p.charCodeAt(0) === 0x2f /* / */) return false;
  for (let k = 0; k < p.length; k++) {
    const c = p.charCodeAt(k);
    if (c === 0x0a || c === 0x0d) return false;
    if (!isSpace(c)) return true;
  }
  // Only whitespace: the next join's '\n' continues the run, unless this is the end of the text.
  return i === parts.length - 1;
}

/**
 * Unicode White_Space (what `\s` is to tiktoken's expressions), with U+FEFF and U+180E besides: a
 * character wrongly taken for whitespace only makes fewer cuts, one missed here would be wrong.
 */
function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0x85) return false;
  return (
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    c === 0x180e ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** The prompt `parts.join('\n')` cut into pieces that tiktoken counts independently. */
export function segments(parts: readonly string[]): string[] {
  if (parts.length === 0) return [];
  const out: string[] = [];
  let cur = parts[0]!;
  for (let i = 1; i < parts.length; i++) {
    if (cutsBefore(parts, i)) {
      out.push(`${cur}\n`);
      cur = parts[i]!;
    } else cur = `${cur}\n${parts[i]!}`;
  }
  out.push(cur);
  return out;
}

/** A bounded map kept as two generations: entries not used for a whole generation are dropped. */
class Generations {
  private young = new Map<string, number>();
  private old = new Map<string, number>();
  private chars = 0;

  get(key: string): number | undefined {
    const n = this.young.get(key);
    if (n !== undefined) return n;
    const o = this.old.get(key);
    if (o !== undefined) this.set(key, o);
    return o;
  }

  set(key: string, n: number): void {
    if (this.young.size >= GENERATION_ENTRIES || this.chars + key.length > GENERATION_CHARS) {
      this.old = this.young;
      this.young = new Map();
      this.chars = 0;
    }
    this.young.set(key, n);
    this.chars += key.length;
  }
}

export class PromptCounts {
  private readonly caches = new Map<Encoding, Generations>();

  constructor(private readonly counter: (e: Encoding) => TokenCounter) {}

  /**
   * Tokens in `parts.join('\n')` for `agent`, -1 when the encoder failed on some of it. A number
   * when every piece was counted before or is short enough to count now; else a promise (a worker
   * thread counts what is new).
   */
  count(agent: string, enc: Encoding, parts: readonly string[]): number | Promise<number> {
    let cache = this.caches.get(enc);
    if (!cache) this.caches.set(enc, (cache = new Generations()));
    // The agent's id with its length: no agent's keys can spell another's.
    const prefix = `${agent.length}:${agent}`;
    let total = 0;
    let newKeys: string[] | undefined;
    let newTexts: string[] | undefined;
    for (const s of segments(parts)) {
      const key = s.length <= RAW_KEY_CHARS ? `${prefix}\u0000${s}` : `${prefix}\u0001${sha256Hex(s)}`;
      const n = cache.get(key);
      if (n !== undefined) total += n;
      else {
        (newKeys ??= []).push(key);
        (newTexts ??= []).push(s);
      }
    }
    if (!newKeys || !newTexts) return total;
    const keys = newKeys;
    const texts = newTexts;
    const add = (counts: number[]): number => {
      let failed = false;
      for (let i = 0; i < counts.length; i++) {
        const n = counts[i]!;
        if (n < 0) failed = true;
        else {
          cache.set(keys[i]!, n);
          total += n;
        }
      }
      // Not remembered: the next call tries again (a worker that died is replaced).
      return failed ? -1 : total;
    };
    const counts = this.counter(enc).countEach(texts);
    return counts instanceof Promise ? counts.then(add) : add(counts);
  }
}

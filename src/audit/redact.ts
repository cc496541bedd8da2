// Redaction of arguments before they reach the audit log. Returns a new JSON value; never mutates.
//
// - Keys (secret-keys.ts): split into words (`_`, `-`, camelCase), so `aws_secret_access_key`,
//   `secretAccessKey`, `db_pass`, `passphrase`, `X-Api-Key` match and `passenger`, `tokenizer`,
//   `max_tokens`, `token_count`, `password_policy_min_length` do not; the value, whatever its
//   type, becomes "[REDACTED]". Also the value of a `["PASSWORD", value]` pair, of a CLI flag
//   (`["--password", value]`) and of an env-style `{name: "DB_PASSWORD", value}` entry.
// - Strings (secret-text.ts): token shapes (bearer, `sk-…`, `sk_live_…`, AWS, GitHub, JWTs, PEM
//   keys, …), URL passwords (`postgres://user:[REDACTED]@host`) and `KEY=value` / `key: value` /
//   `?token=` pairs whose key is secret become "[REDACTED]"; linear time on any input.
// - Long strings (over maxValueBytes UTF-8 bytes) become
//   `{"__truncated": true, "length": <original UTF-8 bytes>, "head": "<first ≤ maxValueBytes bytes>"}`.
// - Cycles become "[Circular]"; beyond maxDepth "[MaxDepth]"; after maxNodes values "[Truncated]".
import type { AuditJson } from './record.js';
import { secretKeyMatcher } from './secret-keys.js';
import { REDACTED, secretTextScrubber } from './secret-text.js';

export { REDACTED } from './secret-text.js';
export { DEFAULT_SECRET_PATTERNS } from './secret-text.js';

export interface RedactorOptions {
  /** Key names to redact (whole key or its end), added to the built-in rules of secret-keys.ts. */
  keys: readonly string[];
  /** Secret patterns, added to DEFAULT_SECRET_PATTERNS (made global if they are not). */
  patterns?: readonly RegExp[];
  /** Strings longer than this (UTF-8 bytes) are truncated. */
  maxValueBytes: number;
  /** Default 32. */
  maxDepth?: number;
  /** Values visited before the rest is cut (bounds the cost and size of huge arguments). Default 5000. */
  maxNodes?: number;
}

export interface Redactor {
  (value: unknown): AuditJson;
  /** The same scrubbing for one string that must stay a string (a resource URI), never truncated. */
  text(s: string): string;
}

/** An array element naming a secret, whose next element is its value: `"PASSWORD"`, `"--token"`. */
const FLAG = /^-{0,2}([A-Za-z][A-Za-z0-9_.-]{0,63})$/;

export function createRedactor(opts: RedactorOptions): Redactor {
  const isSecretKey = secretKeyMatcher(opts.keys);
  const scrub = secretTextScrubber(isSecretKey, opts.patterns);
  const maxBytes = Math.max(0, Math.floor(opts.maxValueBytes));
  const maxDepth = opts.maxDepth ?? 32;
  const maxNodes = opts.maxNodes ?? 5000;
  /** Whether an array element names a secret that the next element holds. */
  const namesSecret = (v: unknown, pairLike: boolean): boolean => {
    if (typeof v !== 'string' || v.length > 66) return false;
    const m = FLAG.exec(v);
    // In a 2-element array any secret name counts; in a longer one (argv) only a flag (`--password`).
    return m !== null && (pairLike || v.startsWith('-')) && isSecretKey(m[1] as string);
  };
  /** An env-style entry `{name|key: "DB_PASSWORD", value: …}`: its `value` is the secret. */
  const secretEntry = (o: object): boolean => {
    if (!('value' in o)) return false;
    const name = (o as { name?: unknown }).name ?? (o as { key?: unknown }).key;
    return typeof name === 'string' && name.length <= 256 && isSecretKey(name);
  };

  const redactString = (s: string): AuditJson => {
    // Cheap bound first: a UTF-8 char is at most 3 bytes per UTF-16 unit.
    if (s.length * 3 <= maxBytes) return scrub(s);
    const length = Buffer.byteLength(s, 'utf8');
    if (length <= maxBytes) return scrub(s);
    // Scrub a little beyond the cut so a secret straddling it is still recognised, then cut.
    const head = cutUtf8(scrub(s.slice(0, maxBytes + 1024)), maxBytes);
    return { __truncated: true, length, head };
  };

  const redact = (value: unknown): AuditJson => {
    let nodes = 0;
    const ancestors = new Set<object>();
    const walk = (v: unknown, depth: number): AuditJson | undefined => {
      if (++nodes > maxNodes) return '[Truncated]';
      switch (typeof v) {
        case 'string':
          return redactString(v);
        case 'number':
          return Number.isFinite(v) ? v : String(v);
        case 'boolean':
          return v;
        case 'bigint':
          return v.toString();
        case 'undefined':
        case 'function':
        case 'symbol':
          return undefined;
      }
      if (v === null) return null;
      const obj = v as object;
      if (ancestors.has(obj)) return '[Circular]';
      if (depth >= maxDepth) return '[MaxDepth]';
      if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? null : obj.toISOString();
      if (ArrayBuffer.isView(obj)) return { __binary: true, length: obj.byteLength };
      if (obj instanceof Error) return { name: redactString(obj.name), message: redactString(obj.message) };
      ancestors.add(obj);
      try {
        if (Array.isArray(obj)) {
          const out: AuditJson[] = [];
          const pairLike = obj.length === 2;
          let afterName = false;
          for (const item of obj) {
            if (nodes >= maxNodes) {
              out.push('[Truncated]');
              break;
            }
            if (afterName && item !== null && typeof item !== 'object') {
              nodes++;
              out.push(REDACTED);
              afterName = false;
              continue;
            }
            afterName = namesSecret(item, pairLike);
            const r = walk(item, depth + 1);
            out.push(r === undefined ? null : r);
          }
          return out;
        }
        const src: Iterable<[unknown, unknown]> =
          obj instanceof Map
            ? obj.entries()
            : obj instanceof Set
              ? [...obj].map((x, i) => [String(i), x] as [unknown, unknown])
              : Object.entries(obj);
        const out: { [key: string]: AuditJson } = {};
        const entry = !(obj instanceof Map) && !(obj instanceof Set) && secretEntry(obj);
        for (const [k0, item] of src) {
          const k = String(k0);
          if (nodes >= maxNodes) {
            set(out, '__truncated', true);
            break;
          }
          if (isSecretKey(k) || (entry && k === 'value')) {
            nodes++;
            set(out, k, REDACTED);
            continue;
          }
          const r = walk(item, depth + 1);
          if (r !== undefined) set(out, k, r);
        }
        return out;
      } catch {
        // A throwing getter or iterator: record that, not the exception.
        return '[Unreadable]';
      } finally {
        ancestors.delete(obj);
      }
    };
    const r = walk(value, 0);
    return r === undefined ? null : r;
  };
  return Object.assign(redact, { text: scrub });
}

/** Assigns without letting a `__proto__` key (legal in parsed JSON) change the prototype. */
function set(out: { [key: string]: AuditJson }, key: string, value: AuditJson): void {
  if (key === '__proto__')
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

/** The longest prefix of `s` that is at most `maxBytes` UTF-8 bytes, never splitting a character. */
export function cutUtf8(s: string, maxBytes: number): string {
  if (s.length * 3 <= maxBytes) return s;
  const buf = Buffer.from(s, 'utf8');
  if (buf.length <= maxBytes) return s;
  let end = maxBytes;
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--; // back up to a character start
  return buf.subarray(0, end).toString('utf8');
}

// Redaction of arguments before they reach the audit log. Returns a new JSON value; never mutates.
//
// - Keys: case-insensitive, ignoring `-` and `_`, matching the whole key or its end (`db_password`,
//   `X-Api-Key`, `githubToken`); the value, whatever its type, becomes "[REDACTED]". `max_tokens`
//   does not match `token` (ends in "tokens").
// - Values: secret-looking substrings anywhere in any string become "[REDACTED]".
// - Long strings (over maxValueBytes UTF-8 bytes) become
//   `{"__truncated": true, "length": <original UTF-8 bytes>, "head": "<first ≤ maxValueBytes bytes>"}`.
// - Cycles become "[Circular]"; beyond maxDepth "[MaxDepth]"; after maxNodes values "[Truncated]".
import type { AuditJson } from './record.js';

export const REDACTED = '[REDACTED]';

export const DEFAULT_REDACT_KEYS: readonly string[] = [
  'password',
  'passwd',
  'token',
  'secret',
  'api_key',
  'apikey',
  'authorization',
  'access_token',
  'refresh_token',
  'client_secret',
  'private_key',
  'cookie',
  'credentials',
];

export const DEFAULT_SECRET_PATTERNS: readonly RegExp[] = [
  /\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/gi,
  /\bsk-[A-Za-z0-9_-]{16,}/g, // OpenAI / Anthropic style keys (sk-…, sk-proj-…, sk-ant-…)
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, // AWS access key ids
  /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})/g,
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/g, // Slack
  /\bAIza[0-9A-Za-z_-]{35}/g, // Google API keys
  // PEM private keys; an unterminated block (cut by truncation) is redacted to the end.
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
  /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, // JWTs (header.payload.signature)
];

export interface RedactorOptions {
  /** Key names to redact, added to DEFAULT_REDACT_KEYS. */
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

export type Redactor = (value: unknown) => AuditJson;

const normalizeKey = (k: string): string => k.toLowerCase().replace(/[-_]/g, '');

export function createRedactor(opts: RedactorOptions): Redactor {
  const keys = [...new Set([...DEFAULT_REDACT_KEYS, ...opts.keys].map(normalizeKey).filter((k) => k.length > 0))];
  const patterns = [...DEFAULT_SECRET_PATTERNS, ...(opts.patterns ?? [])].map((re) =>
    re.global ? re : new RegExp(re.source, `${re.flags}g`),
  );
  const maxBytes = Math.max(0, Math.floor(opts.maxValueBytes));
  const maxDepth = opts.maxDepth ?? 32;
  const maxNodes = opts.maxNodes ?? 5000;
  const keyCache = new Map<string, boolean>();

  const isSecretKey = (key: string): boolean => {
    let hit = keyCache.get(key);
    if (hit === undefined) {
      const n = normalizeKey(key);
      hit = keys.some((k) => n.endsWith(k));
      if (keyCache.size < 10_000) keyCache.set(key, hit);
    }
    return hit;
  };

  const scrub = (s: string): string => {
    let out = s;
    for (const re of patterns) out = out.replace(re, REDACTED);
    return out;
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

  return (value: unknown): AuditJson => {
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
          for (const item of obj) {
            if (nodes >= maxNodes) {
              out.push('[Truncated]');
              break;
            }
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
        for (const [k0, item] of src) {
          const k = String(k0);
          if (nodes >= maxNodes) {
            set(out, '__truncated', true);
            break;
          }
          if (isSecretKey(k)) {
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

// An HTTP upstream's error page, the error of a JSON-RPC answer, and what an upstream says in its
// notifications (log lines, progress messages) are repeated in what the gateway reports or relays:
// the agent's error and stream, the audit record, /readyz (open to anyone) and `tollgate check`.
// Servers and proxies in front of them often quote the request they refused, credentials included,
// and servers log what they were started with, so the values the gateway itself gave the upstream
// (its `headers`, a user's token, the URL's query, a stdio process's `env`) are cut out of that text
// first. Results and server requests are the upstream's data and are relayed as they came.
import { isObject, type JsonRpcMessage } from '../mcp/jsonrpc.js';
import type { ChannelEvents } from './channel.js';

/** Shorter values are no credentials, and cutting them would garble ordinary words. */
const MIN_SECRET_LENGTH = 8;
const REDACTED = '[REDACTED]';

/** Values longest first (a value containing another is cut whole), each once. */
function longestFirst(values: Iterable<string>): string[] {
  return [...new Set(values)].sort((a, b) => b.length - a.length);
}

/**
 * The values worth hiding among headers (or a stdio process's environment) we send, the upstream
 * URL's query and password, and other values we gave it (a stdio command line's credentials);
 * longest first.
 */
export function sentSecrets(
  headers: readonly Readonly<Record<string, string>>[],
  url?: URL,
  values: readonly string[] = [],
): string[] {
  const out: string[] = [];
  const add = (v: string) => {
    if (v.length >= MIN_SECRET_LENGTH) out.push(v);
    // "Bearer <token>", "Basic <b64>": the token alone may be quoted too.
    const space = v.indexOf(' ');
    if (space > 0 && v.length - space - 1 >= MIN_SECRET_LENGTH) out.push(v.slice(space + 1).trim());
  };
  for (const h of headers) for (const v of Object.values(h)) add(v);
  for (const v of values) add(v);
  if (url) {
    for (const v of url.searchParams.values()) add(v);
    if (url.password) add(decodeURIComponent(url.password));
  }
  return longestFirst(out);
}

/** `text` with every secret replaced by `[REDACTED]`; the same string when it holds none. */
export function textWithout(text: string, secrets: readonly string[]): string {
  let t = text;
  for (const s of secrets) if (t.includes(s)) t = t.replaceAll(s, REDACTED);
  return t;
}

/** The first `max` characters of `text`, with every secret in them replaced by `[REDACTED]`. */
export function quoteWithout(text: string, max: number, secrets: readonly string[]): string {
  const longest = secrets[0]?.length ?? 0;
  // A secret that starts before `max` is wholly inside this window: none is cut in half and left.
  return textWithout(text.slice(0, max + longest), secrets).slice(0, max);
}

/**
 * A JSON value with every secret cut out of its strings (object keys included); the same value when
 * it names none. Strings are compared as they were decoded, so however the upstream escaped them.
 * Copies only the path down to a changed string: a message naming no secret is not copied.
 */
export function valueWithout(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') return textWithout(value, secrets);
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      const w = valueWithout(v, secrets);
      if (w !== v) (out ??= value.slice())[i] = w;
    }
    return out ?? value;
  }
  if (!isObject(value)) return value;
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(value)) {
    const v = value[k];
    const w = valueWithout(v, secrets);
    const key = textWithout(k, secrets);
    if (w === v && key === k) continue;
    out ??= { ...value };
    if (key !== k) delete out[k];
    // Defined, not assigned: a "__proto__" key (JSON.parse makes it an own property) stays one.
    Object.defineProperty(out, key, { value: w, enumerable: true, writable: true, configurable: true });
  }
  return out ?? value;
}

/**
 * An answer's `error` (message and data) or a notification's `params` with every secret replaced by
 * `[REDACTED]`; results, server requests, and messages naming no secret are returned as they came.
 * `secrets` longest first (as sentSecrets and ChannelSecrets give them).
 */
export function messageWithout(msg: JsonRpcMessage, secrets: readonly string[]): JsonRpcMessage {
  if (secrets.length === 0) return msg;
  if ('error' in msg) {
    const error = valueWithout(msg.error, secrets);
    return error === msg.error ? msg : ({ ...msg, error } as JsonRpcMessage);
  }
  if ('method' in msg && !('id' in msg) && msg.params !== undefined) {
    const params = valueWithout(msg.params, secrets);
    return params === msg.params ? msg : ({ ...msg, params } as JsonRpcMessage);
  }
  return msg;
}

/**
 * A channel's events with upstream errors and notifications scrubbed of `secrets()` (read at each
 * such message; results pass straight through).
 */
export function scrubbingEchoes(events: ChannelEvents, secrets: () => readonly string[]): ChannelEvents {
  return {
    message: (msg, related) => events.message('result' in msg ? msg : messageWithout(msg, secrets()), related),
    closed: (reason) => events.closed(reason),
    ...(events.discarded
      ? { discarded: (reason, related, response) => events.discarded?.(reason, related, response) }
      : {}),
  };
}

/**
 * How many distinct per-user credentials one channel keeps scrubbable. A user's token changes when it
 * is refreshed (or a JWT's groups pick another secret), and an answer, a GET-stream notification or
 * a log line can still quote an earlier one; the last 8 distinct sets of headers sent are kept.
 */
export const SENT_HISTORY = 8;

/** Same names, same values: the same credential sent again (asked for anew on every request). */
function sameHeaders(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  if (a === b) return true;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}

/** One channel's secrets: its fixed ones, and the per-user headers it sent (the last SENT_HISTORY distinct). */
export class ChannelSecrets {
  /** Distinct headers sent, most recent last. */
  private readonly sent: Readonly<Record<string, string>>[] = [];
  private current: readonly string[];
  constructor(readonly fixed: readonly string[]) {
    this.current = longestFirst(fixed);
  }

  /** Notes headers about to be sent; returns them. Cheap when they are the ones sent last. */
  remember(sent: Record<string, string>): Record<string, string> {
    const last = this.sent.length - 1;
    if (last >= 0 && sameHeaders(this.sent[last] as Record<string, string>, sent)) return sent;
    const seen = this.sent.findIndex((h) => sameHeaders(h, sent));
    if (seen >= 0) this.sent.splice(seen, 1);
    this.sent.push(sent);
    if (seen >= 0) return sent; // already scrubbed: only its place in the history moves
    if (this.sent.length > SENT_HISTORY) this.sent.shift();
    this.current = longestFirst([...sentSecrets(this.sent), ...this.fixed]);
    return sent;
  }

  /** Every secret to cut, longest first. */
  all(): readonly string[] {
    return this.current;
  }

  /** all(), and what `sent` holds should it no longer be among them. */
  including(sent: Readonly<Record<string, string>> | undefined): readonly string[] {
    if (!sent || this.sent.some((h) => sameHeaders(h, sent))) return this.current;
    return longestFirst([...sentSecrets([sent]), ...this.current]);
  }
}

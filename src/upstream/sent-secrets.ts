// An HTTP upstream's error page, and the error of a JSON-RPC answer, are repeated in what the gateway
// reports: the agent's error, the audit record, /readyz (open to anyone) and `tollgate check`.
// Servers and proxies in front of them often quote the request they refused, credentials included,
// so the values the gateway itself sent (its `headers`, a user's token, the URL's query) are cut out
// of that text first. Results are the upstream's data and are relayed as they came.
import { isObject, type JsonRpcMessage } from '../mcp/jsonrpc.js';
import type { ChannelEvents } from './channel.js';

/** Shorter values are no credentials, and cutting them would garble ordinary words. */
const MIN_SECRET_LENGTH = 8;

/** The values worth hiding among headers we send and the upstream URL's query and password. */
export function sentSecrets(headers: readonly Readonly<Record<string, string>>[], url?: URL): string[] {
  const out = new Set<string>();
  const add = (v: string) => {
    if (v.length >= MIN_SECRET_LENGTH) out.add(v);
    // "Bearer <token>", "Basic <b64>": the token alone may be quoted too.
    const space = v.indexOf(' ');
    if (space > 0 && v.length - space - 1 >= MIN_SECRET_LENGTH) out.add(v.slice(space + 1).trim());
  };
  for (const h of headers) for (const v of Object.values(h)) add(v);
  if (url) {
    for (const v of url.searchParams.values()) add(v);
    if (url.password) add(decodeURIComponent(url.password));
  }
  // Longest first: a value containing another is cut whole.
  return [...out].sort((a, b) => b.length - a.length);
}

/** The first `max` characters of `text`, with every secret in them replaced by `[REDACTED]`. */
export function quoteWithout(text: string, max: number, secrets: readonly string[]): string {
  const longest = secrets[0]?.length ?? 0;
  // A secret that starts before `max` is wholly inside this window: none is cut in half and left.
  let t = text.slice(0, max + longest);
  for (const s of secrets) t = t.replaceAll(s, '[REDACTED]');
  return t.slice(0, max);
}

/**
 * An answer's `error` (message and data) with every secret replaced by `[REDACTED]`; any other
 * message, or an error naming none of them, is returned as it came.
 */
export function errorWithout(msg: JsonRpcMessage, secrets: readonly string[]): JsonRpcMessage {
  if (!('error' in msg) || !isObject(msg.error) || secrets.length === 0) return msg;
  const text = JSON.stringify(msg.error);
  let out = text;
  // As the secrets appear inside JSON strings; longest first, so one containing another goes whole.
  for (const s of [...secrets].sort((a, b) => b.length - a.length))
    out = out.replaceAll(JSON.stringify(s).slice(1, -1), '[REDACTED]');
  return out === text ? msg : { ...msg, error: JSON.parse(out) };
}

/** A channel's events with upstream errors scrubbed of `secrets()` (read at each message). */
export function scrubbingErrors(events: ChannelEvents, secrets: () => readonly string[]): ChannelEvents {
  return {
    message: (msg, related) => events.message('error' in msg ? errorWithout(msg, secrets()) : msg, related),
    closed: (reason) => events.closed(reason),
    ...(events.discarded
      ? { discarded: (reason, related, response) => events.discarded?.(reason, related, response) }
      : {}),
  };
}

/** One channel's secrets: its fixed ones, and the per-user headers it sent last (a user's token). */
export class ChannelSecrets {
  private lastSent: string[] = [];
  constructor(readonly fixed: readonly string[]) {}

  /** Notes headers about to be sent; returns them. */
  remember(sent: Record<string, string>): Record<string, string> {
    this.lastSent = sentSecrets([sent]);
    return sent;
  }

  all(): string[] {
    return this.lastSent.concat(this.fixed);
  }
}

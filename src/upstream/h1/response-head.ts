// The head of an upstream's HTTP/1.1 response (RFC 9112), read strictly: everything an upstream
// sends is hostile. A head we would have to guess at (bare LF, folded lines, a Content-Length that
// disagrees with itself or sits beside Transfer-Encoding, a coding we did not ask for) is refused,
// never read one way here and another way by the upstream: the connection is closed, not reused.

/** How the body after the head is delimited. */
export type Framing = { kind: 'none' } | { kind: 'length'; bytes: number } | { kind: 'chunked' } | { kind: 'close' };

export interface ResponseHead {
  status: number;
  /** Lower-case names; a repeated header is a list, as undici gives it. */
  headers: Record<string, string | string[]>;
  framing: Framing;
  /** Whether the connection may carry another request once this response is read. */
  keepAlive: boolean;
  /** How long the server keeps an idle connection open (`Keep-Alive: timeout=N`), when it says. */
  idleMs: number | undefined;
}

/** A response no client should read: the connection it came on is closed. */
export class MalformedResponse extends Error {
  readonly code = 'TOLLGATE_BAD_RESPONSE';
  constructor(reason: string) {
    super(`malformed HTTP response from upstream: ${reason}`);
  }
}

/** The most a head may take (Node's and undici's default), and the most header lines in it. */
export const MAX_HEAD_BYTES = 16 * 1024;
const MAX_HEADERS = 128;
const EDGE_WHITESPACE = /^[ \t]+|[ \t]+$/g;

/**
 * A whole head, checked in one linear pass: the status line, then header lines of a token, a colon
 * and a value of visible characters, spaces and tabs, each after a CRLF. So no bare CR or LF, no
 * NUL, no folded line (it would start with a space), no space before a colon.
 */
const HEAD =
  /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [\t\x20-\x7e\x80-\xff]*)?((?:\r\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*)*)$/;

/** The head in `text` (latin1, without the blank line ending it). Throws MalformedResponse. */
export function parseHead(text: string): ResponseHead {
  const m = HEAD.exec(text);
  if (!m) throw new MalformedResponse(/^HTTP\/1\.[01] [1-9]\d\d/.test(text) ? 'bad header line' : 'bad status line');
  const fields = m[3] as string;
  const headers: Record<string, string | string[]> = {};
  let count = 0;
  // Each line starts after a CRLF (the match above guarantees the shape).
  for (let at = 2; at < fields.length + 2; count++) {
    if (count === MAX_HEADERS) throw new MalformedResponse(`more than ${MAX_HEADERS} header lines`);
    const end = fields.indexOf('\r\n', at);
    const stop = end < 0 ? fields.length : end;
    const colon = fields.indexOf(':', at);
    const key = fields.slice(at, colon).toLowerCase();
    const value = trimmed(fields, colon + 1, stop);
    // Own properties only, and `__proto__` defined, not assigned: the upstream names its headers, and
    // `constructor` must not read as an existing value, nor `__proto__` replace the object's prototype.
    const had = Object.hasOwn(headers, key) ? headers[key] : undefined;
    const next = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
    if (key === '__proto__')
      Object.defineProperty(headers, key, { value: next, enumerable: true, writable: true, configurable: true });
    else headers[key] = next;
    at = stop + 2;
  }
  const code = Number(m[2]);
  const framing = framingOf(code, headers);
  const connection = headers.connection;
  return {
    status: code,
    headers,
    framing,
    keepAlive:
      m[1] === '1' &&
      framing.kind !== 'close' &&
      (connection === undefined || !CLOSE.test(Array.isArray(connection) ? connection.join(',') : connection)),
    idleMs: headers['keep-alive'] === undefined ? undefined : idleOf(headers['keep-alive']),
  };
}

/** text[from, to) without the spaces and tabs at its ends. */
function trimmed(text: string, from: number, to: number): string {
  let a = from;
  let b = to;
  while (a < b && (text.charCodeAt(a) === 0x20 || text.charCodeAt(a) === 0x09)) a++;
  while (b > a && (text.charCodeAt(b - 1) === 0x20 || text.charCodeAt(b - 1) === 0x09)) b--;
  return text.slice(a, b);
}

/** `close` among a Connection header's options (on every answer: a regex, not a split list). */
const CLOSE = /(?:^|,)[ \t]*close[ \t]*(?:,|$)/i;
const IDLE_TIMEOUT = /(?:^|[,;\s])timeout=(\d{1,6})(?:$|[,;\s])/i;

/** RFC 9112 §6.3, with every ambiguous case refused. */
function framingOf(status: number, headers: Record<string, string | string[]>): Framing {
  if (status < 200 || status === 204 || status === 304) return { kind: 'none' };
  const te = headers['transfer-encoding'];
  const cl = headers['content-length'];
  if (te !== undefined) {
    if (cl !== undefined) throw new MalformedResponse('both Transfer-Encoding and Content-Length');
    const codings = listOf(te);
    if (codings.length !== 1 || codings[0]?.toLowerCase() !== 'chunked')
      throw new MalformedResponse(
        `unsupported Transfer-Encoding ${JSON.stringify(listOf(te).join(', ').slice(0, 60))}`,
      );
    return { kind: 'chunked' };
  }
  if (cl === undefined) return { kind: 'close' };
  if (typeof cl === 'string' && /^\d{1,15}$/.test(cl)) return { kind: 'length', bytes: Number(cl) };
  const values = listOf(cl);
  const first = values[0] ?? '';
  if (!/^\d{1,15}$/.test(first) || values.some((v) => v !== first))
    throw new MalformedResponse('bad or conflicting Content-Length');
  return { kind: 'length', bytes: Number(first) };
}

/** A header's comma-separated elements, over all its lines. */
function listOf(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const all = Array.isArray(value) ? value.join(',') : value;
  return all
    .split(',')
    .map((v) => v.replace(EDGE_WHITESPACE, ''))
    .filter((v) => v !== '');
}

function idleOf(value: string | string[] | undefined): number | undefined {
  const m = IDLE_TIMEOUT.exec(Array.isArray(value) ? value.join(',') : (value ?? ''));
  return m ? Number(m[1]) * 1000 : undefined;
}

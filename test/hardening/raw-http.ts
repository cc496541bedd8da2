// Raw HTTP/1.1 over node:net, for inputs fetch and undici normalise or refuse (CR/LF in header
// values, `..` in paths, invalid bytes, lying Content-Length), and helpers shared by the hardening
// tests: the JSON-RPC response-shape oracle.
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** The socket ended with no HTTP response at all. */
  noResponse?: boolean;
  /** Milliseconds from the last byte written to the socket ending (or the timeout). */
  ms: number;
  /** The deadline passed before the server finished its answer. */
  timedOut?: boolean;
}

/**
 * Writes `chunks` (strings as latin1, so every byte is exactly what the test says), then reads one
 * response until the server closes the connection or the framing says it is complete.
 */
export function rawRequest(
  port: number,
  chunks: (string | Buffer)[],
  opts: { timeoutMs?: number; gapMs?: number } = {},
): Promise<RawResponse> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  return new Promise((resolve) => {
    const sock: Socket = connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let started = Date.now();
    let done = false;
    const finish = (timedOut: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const parsed = parseResponse(Buffer.concat(got));
      resolve({ ...parsed, ms: Date.now() - started, ...(timedOut ? { timedOut: true } : {}) });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    sock.on('data', (d: Buffer) => {
      got.push(d);
      if (isComplete(Buffer.concat(got))) finish(false);
    });
    sock.on('close', () => finish(false));
    sock.on('error', () => finish(false));
    sock.once('connect', async () => {
      for (const c of chunks) {
        if (done) return;
        sock.write(typeof c === 'string' ? Buffer.from(c, 'latin1') : c);
        if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
      }
      started = Date.now();
    });
  });
}

function headerEnd(buf: Buffer): number {
  return buf.indexOf('\r\n\r\n');
}

function parseHead(buf: Buffer): { status: number; headers: Record<string, string>; bodyAt: number } | undefined {
  const end = headerEnd(buf);
  if (end < 0) return undefined;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status, headers, bodyAt: end + 4 };
}

function dechunk(buf: Buffer): { body: Buffer; complete: boolean } {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const nl = buf.indexOf('\r\n', at);
    if (nl < 0) return { body: Buffer.concat(parts), complete: false };
    const size = parseInt(buf.subarray(at, nl).toString('latin1'), 16);
    if (Number.isNaN(size)) return { body: Buffer.concat(parts), complete: false };
    if (size === 0) return { body: Buffer.concat(parts), complete: true };
    if (buf.length < nl + 2 + size + 2) return { body: Buffer.concat(parts), complete: false };
    parts.push(buf.subarray(nl + 2, nl + 2 + size));
    at = nl + 2 + size + 2;
  }
}

function isComplete(buf: Buffer): boolean {
  const head = parseHead(buf);
  if (!head) return false;
  const rest = buf.subarray(head.bodyAt);
  if (head.status === 204 || head.status === 304 || (head.status >= 100 && head.status < 200)) return true;
  if (head.headers['content-length'] !== undefined) return rest.length >= Number(head.headers['content-length']);
  if (/chunked/i.test(head.headers['transfer-encoding'] ?? '')) return dechunk(rest).complete;
  return false; // read until close
}

export function parseResponse(buf: Buffer): Omit<RawResponse, 'ms'> {
  const head = parseHead(buf);
  if (!head) return { status: 0, headers: {}, body: buf, noResponse: true };
  const rest = buf.subarray(head.bodyAt);
  let body = rest;
  if (head.headers['content-length'] !== undefined) body = rest.subarray(0, Number(head.headers['content-length']));
  else if (/chunked/i.test(head.headers['transfer-encoding'] ?? '')) body = dechunk(rest).body;
  return { status: head.status, headers: head.headers, body };
}

/** A complete request as bytes (latin1), with Content-Length unless a header list already sets framing. */
export function rawHttp(method: string, target: string, headers: [string, string][], body = ''): string {
  const hasFraming = headers.some(([k]) => /^(content-length|transfer-encoding)$/i.test(k));
  const all: [string, string][] = [...headers];
  if (!hasFraming && (body.length > 0 || method === 'POST'))
    all.push(['Content-Length', String(Buffer.byteLength(body, 'latin1'))]);
  return `${method} ${target} HTTP/1.1\r\n${all.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${body}`;
}

// ---- the oracle --------------------------------------------------------------------------------

type Id = string | number | null;

/**
 * Why `r` is not a well-formed answer, or undefined when it is. A well-formed answer is:
 * - 202 with an empty body (only for notifications and responses), or
 * - 200 with `application/json` and a JSON-RPC response (an array of them for a batch) whose ids
 *   are ids the client sent, or
 * - a 4xx with `application/json` and a JSON-RPC error body with id null or the client's id.
 * Never a 5xx, never -32603 (an internal error is an exception the gateway did not expect),
 * never a parser-level answer without a JSON-RPC body, never a hang.
 */
export function shapeProblem(
  r: {
    status: number;
    headers: Record<string, string>;
    body: Buffer | string;
    timedOut?: boolean;
    noResponse?: boolean;
  },
  sentIds: Id[] | undefined,
): string | undefined {
  if (r.timedOut) return `no answer before the deadline (hang); got status ${r.status}`;
  if (r.noResponse) return 'connection closed without any HTTP response';
  const text = typeof r.body === 'string' ? r.body : r.body.toString('utf8');
  const brief = `${r.status} ${r.headers['content-type'] ?? '(no content-type)'} ${JSON.stringify(text.slice(0, 200))}`;
  if (r.status === 202) return text === '' ? undefined : `202 with a body: ${brief}`;
  if (r.status !== 200 && (r.status < 400 || r.status >= 500)) return `status outside 2xx/4xx: ${brief}`;
  if (!(r.headers['content-type'] ?? '').startsWith('application/json'))
    return `content-type is not application/json: ${brief}`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `body is not JSON: ${brief}`;
  }
  const list = Array.isArray(body) && r.status === 200 ? body : [body];
  if (list.length === 0) return `empty JSON-RPC batch answer: ${brief}`;
  for (const m of list) {
    const p = messageProblem(m, r.status, sentIds);
    if (p) return `${p}: ${brief}`;
  }
  return undefined;
}

function messageProblem(m: unknown, status: number, sentIds: Id[] | undefined): string | undefined {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return 'not a JSON-RPC object';
  const o = m as Record<string, unknown>;
  if (o.jsonrpc !== '2.0') return 'jsonrpc is not "2.0"';
  if (!('id' in o)) return 'no id';
  const id = o.id as Id;
  const known = sentIds === undefined || sentIds.some((s) => s === id);
  if (status >= 400) {
    if (id !== null && !known) return `error id ${JSON.stringify(id)} was never sent`;
  } else if (!known) return `response id ${JSON.stringify(id)} was never sent`;
  if ('result' in o === 'error' in o) return 'needs exactly one of result and error';
  if (status >= 400 && !('error' in o)) return `${status} without a JSON-RPC error`;
  if ('error' in o) {
    const e = o.error as Record<string, unknown> | null;
    if (typeof e !== 'object' || e === null || !Number.isInteger(e.code) || typeof e.message !== 'string')
      return 'malformed error object';
    if (e.code === -32603) return 'internal error -32603 (an unexpected exception in the gateway)';
  }
  return undefined;
}

// The audit as the admin API serves it: query parameters, newest-first pages with a cursor, and the
// live tail as Server-Sent Events.
import { AUDIT_DECISIONS, type AuditJson, type AuditLine, type AuditRecord } from '../audit/record.js';
import { globMatcher, matcher, parseTimeSpec, readAudit, type AuditQuery } from '../audit/query.js';
import { withUriRedacted } from '../audit/serialize.js';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
/** The last millisecond of 9999 (times as ISO 8601 keep four-digit years). */
const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export interface PageQuery extends AuditQuery {
  limit: number;
  cursor?: string;
}

export type ParsedQuery = { ok: true; query: PageQuery } | { ok: false; problems: string[] };

/** Query-string parameters → a query; problems are reported, not guessed around. */
export function parseAuditParams(get: (name: string) => string[], now: number): ParsedQuery {
  const one = (name: string): string | undefined => {
    const v = get(name).at(-1)?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const problems: string[] = [];
  const query: PageQuery = { limit: DEFAULT_LIMIT };
  for (const key of ['agent', 'tool', 'server', 'instance', 'cursor'] as const) {
    const v = one(key);
    if (v !== undefined) query[key] = v;
  }
  const decisions = get('decision')
    .flatMap((d) => d.split(','))
    .map((d) => d.trim())
    .filter((d) => d !== '');
  // A glob (`approval_*`) is fine when it names at least one decision.
  const unknown = decisions.filter((d) => !AUDIT_DECISIONS.some((k) => globMatcher(d).test(k)));
  if (unknown.length > 0)
    problems.push(`decision: unknown ${unknown.join(', ')} (one of ${AUDIT_DECISIONS.join(', ')})`);
  else if (decisions.length > 0) query.decision = decisions;
  for (const key of ['since', 'until'] as const) {
    const v = one(key);
    if (v === undefined) continue;
    try {
      const t = /^\d{10,}$/.test(v) ? Number(v) : parseTimeSpec(v, now);
      // Outside dates' range (`1e30`, `9999999w`) a time breaks the SQL parameters and the charts' axes.
      if (!(t >= 0 && t <= MAX_TIME_MS)) throw new Error(`${v} is not between 1970 and 9999`);
      query[key] = t;
    } catch (err) {
      problems.push(`${key}: ${(err as Error).message}`);
    }
  }
  const limit = one('limit');
  if (limit !== undefined) {
    const n = Number(limit);
    if (!Number.isInteger(n) || n < 1) problems.push('limit: a positive integer');
    else query.limit = Math.min(n, MAX_LIMIT);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, query };
}

/** Keeps the last n items pushed. */
class Ring<T> {
  private buf: T[] = [];
  private start = 0;
  constructor(private readonly n: number) {}
  push(x: T): void {
    if (this.buf.length < this.n) this.buf.push(x);
    else {
      this.buf[this.start] = x;
      this.start = (this.start + 1) % this.n;
    }
  }
  items(): T[] {
    return [...this.buf.slice(this.start), ...this.buf.slice(0, this.start)];
  }
}

export interface AuditPage {
  records: AuditLine[];
  nextCursor?: string;
}

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'ENOENT';

/**
 * One page, newest first. The cursor is the id of the oldest record of the previous page: this page
 * is the `limit` matching records written just before it (file order, so records of the same
 * millisecond page exactly). A cursor no longer in the log (rotated away, other filters) falls back
 * to comparing ids, which are time-sortable.
 */
export async function readAuditPage(path: string | undefined, q: PageQuery): Promise<AuditPage> {
  if (path === undefined) return { records: [] };
  const { limit, cursor, ...filters } = q;
  // One extra record tells whether an older page exists.
  const before = new Ring<AuditLine>(limit + 1);
  const byId = cursor === undefined ? undefined : new Ring<AuditLine>(limit + 1);
  let found = false;
  try {
    for await (const r of readAudit(path, filters)) {
      const id = r['tollgate.record.id'];
      if (cursor !== undefined && id === cursor) {
        found = true;
        break;
      }
      before.push(r);
      if (byId && cursor !== undefined && id < cursor) byId.push(r);
    }
  } catch (err) {
    if (isMissing(err)) return { records: [] }; // no record written yet
    throw err;
  }
  const window = (byId && !found ? byId : before).items();
  const more = window.length > limit;
  const records = (more ? window.slice(1) : window).reverse();
  const oldest = records.at(-1);
  return more && oldest ? { records, nextCursor: oldest['tollgate.record.id'] } : { records };
}

export type Redact = ((value: unknown) => AuditJson) & { text?: (s: string) => string };

/** What a live record looks like to admins: arguments and resource URI redacted as the log writer redacts them. */
export function redacted(r: AuditRecord, redact: Redact | undefined): AuditRecord {
  if (!redact) return r;
  const args = r['tollgate.request.arguments'];
  const out = args !== null ? { ...r, 'tollgate.request.arguments': redact(args) } : r;
  return redact.text ? withUriRedacted(out, redact.text) : out;
}

export interface LiveTailOptions {
  recorder: { onRecord(l: (r: AuditRecord) => void): () => void };
  query: AuditQuery;
  redact: Redact | undefined;
  keepaliveMs: number;
  signal?: AbortSignal;
  /**
   * Whether the credential that opened the stream still holds (a page's session: logout or expiry
   * end it). Asked before each record and keep-alive; false ends the stream.
   */
  alive?: () => boolean;
}

/** Queued events beyond which a client is too slow to keep: it is cut off and may reconnect. */
const MAX_QUEUED = 10_000;
const encoder = new TextEncoder();

/**
 * The event's `id:` line. Ids are the writer's ULIDs, but a record from the fleet table is whatever
 * its row's text says: an id with a line break would end the line and add events of its own.
 */
const eventId = (id: unknown): string =>
  typeof id === 'string' && /^[0-9A-Za-z_-]{1,64}$/.test(id) ? `id: ${id}\n` : '';

/** Each matching record as `data: <json>` the moment it is written; keep-alive comments between. */
export function liveTailResponse(opts: LiveTailOptions): Response {
  const match = matcher(opts.query);
  let stop = (): void => {};
  const body = new ReadableStream<Uint8Array>({
    start(ctrl) {
      let open = true;
      const send = (s: string): void => {
        if (!open) return;
        if (opts.alive && !opts.alive()) return stop();
        if ((ctrl.desiredSize ?? 0) < -MAX_QUEUED) return stop();
        ctrl.enqueue(encoder.encode(s));
      };
      const off = opts.recorder.onRecord((rec) => {
        const r = redacted(rec, opts.redact);
        if (match(r as AuditLine)) send(`${eventId(r['tollgate.record.id'])}data: ${JSON.stringify(r)}\n\n`);
      });
      const timer = setInterval(() => send(': keep-alive\n\n'), opts.keepaliveMs);
      timer.unref();
      stop = () => {
        if (!open) return;
        open = false;
        off();
        clearInterval(timer);
        opts.signal?.removeEventListener('abort', stop);
        try {
          ctrl.close();
        } catch {
          // already cancelled by the reader
        }
      };
      opts.signal?.addEventListener('abort', stop);
      // First bytes at once: proxies and clients see the stream open before any record.
      send('retry: 3000\n: connected\n\n');
    },
    cancel() {
      stop();
    },
  });
  return new Response(body, {
    status: 200,
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    },
  });
}

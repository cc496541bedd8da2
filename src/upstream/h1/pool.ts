// HTTP/1.1 keep-alive connections to one upstream origin, for the POSTs that carry MCP messages.
// Why not undici (which still serves the GET streams and DELETE): on the hot path its request
// object, header processing, dispatch queue and wasm parser cost ~25 µs of CPU per call, a fifth
// of a bare relay's (bench/raw-socket-relay.mjs, docs/benchmark-history.md session 11). This client
// does only what a Streamable HTTP POST needs: one request string per write, a strict response
// parser (response-head.ts, chunked.ts), at most `connections` sockets, the rest queued in order.
import { connect } from 'node:net';
import type { RequestAbort } from '../channel.js';
import { Connection, ConnectionLost, type Exchange, type ResponseCallback } from './connection.js';
import { requestText } from './request-text.js';

export interface H1PoolOptions {
  /** `http://host:port` (TLS upstreams stay on undici). */
  origin: string;
  connections: number;
  connectTimeoutMs: number;
  /** How long an idle connection is kept (shortened to what the server says it keeps, less a second). */
  idleMs: number;
}

export interface H1Request {
  method: string;
  path: string;
  /** The channel's own headers: rendered once per object (request-text.ts). */
  headers: Readonly<Record<string, string>>;
  /** The call's own (trace context, identity), on top. */
  extra?: Readonly<Record<string, string>> | undefined;
  body: string;
  /** A Content-Length body up to this many bytes comes whole (`full`); a longer one as a stream. */
  fullBytes: number;
  signal?: RequestAbort | undefined;
}

/** What the server's keep-alive timeout is trusted to within: a request sent later may meet its close. */
const SERVER_IDLE_MARGIN_MS = 1000;

export class AbortError extends Error {
  override readonly name = 'AbortError';
  readonly code = 'ABORT_ERR';
}

export class H1Pool {
  private readonly host: string;
  private readonly hostname: string;
  private readonly port: number;
  private readonly idle: Connection[] = [];
  private readonly open = new Set<Connection>();
  private opening = 0;
  private readonly queue: Exchange[] = [];
  private closing: (() => void) | undefined;
  private closed = false;

  constructor(private readonly o: H1PoolOptions) {
    const url = new URL(o.origin);
    if (url.protocol !== 'http:') throw new Error(`H1Pool: ${o.origin} is not an http: origin`);
    if (!Number.isInteger(o.connections) || o.connections < 1) throw new Error('H1Pool: connections must be ≥ 1');
    this.host = url.host;
    this.hostname = url.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(url.port || 80);
  }

  request(r: H1Request, done: ResponseCallback): void {
    if (this.closed) return done(poolClosed());
    let text: string | Buffer;
    try {
      text = requestText(r.method, r.path, this.host, r.headers, r.extra, r.body);
    } catch (err) {
      return done(err as Error);
    }
    const signal = r.signal;
    if (signal?.aborted) return done(new AbortError('request aborted'));
    const onAbort = (): void => {
      const err = new AbortError('request aborted');
      const queued = this.queue.indexOf(ex);
      if (queued >= 0) this.queue.splice(queued, 1);
      // Where it was sent, not where it was first placed: a queued exchange is sent later, on whichever
      // connection frees up (released, dequeue), and that connection must be closed too.
      const conn = ex.sentOn;
      if (queued >= 0 || !conn) {
        // Queued, or its connection still being made (which then goes idle, or to the next in line).
        ex.done = undefined;
        ex.over();
        done(err);
      } else conn.abort(err);
    };
    const ex: Exchange = {
      text,
      fullBytes: r.fullBytes,
      done,
      over: () => signal?.off('abort', onAbort),
    };
    signal?.once('abort', onAbort);
    const conn = this.take();
    if (conn) return conn.send(ex);
    if (this.open.size + this.opening < this.o.connections) return this.connect(ex);
    this.queue.push(ex);
  }

  /** An idle connection still open, if any. */
  private take(): Connection | undefined {
    for (let c = this.idle.pop(); c; c = this.idle.pop()) {
      if (c.closed) continue;
      c.socket.setTimeout(0);
      c.socket.ref();
      return c;
    }
    return undefined;
  }

  private connect(ex: Exchange): void {
    this.opening++;
    const socket = connect({ host: this.hostname, port: this.port, noDelay: true });
    const timer = setTimeout(() => {
      const err = Object.assign(new Error(`connect timed out after ${this.o.connectTimeoutMs} ms`), {
        code: 'TOLLGATE_CONNECT_TIMEOUT',
      });
      socket.destroy(err);
    }, this.o.connectTimeoutMs);
    const failed = (err: Error): void => {
      clearTimeout(timer);
      this.opening--;
      const done = ex.done;
      ex.done = undefined;
      ex.over();
      done?.(err);
      this.dequeue();
    };
    socket.once('error', failed);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', failed);
      this.opening--;
      const c = new Connection(socket, this.released);
      // Armed only while the connection is idle (setTimeout in released, cleared in take).
      socket.on('timeout', () => this.released(c, false));
      this.open.add(c);
      if (this.closed && ex.done) {
        // The pool closed while this connection was being made: its request is told, not left waiting.
        const done = ex.done;
        ex.done = undefined;
        ex.over();
        done(poolClosed());
      }
      if (!ex.done) return this.released(c, !this.closed); // aborted while connecting, or closed
      c.send(ex);
    });
  }

  private readonly released = (c: Connection, reusable: boolean): void => {
    if (!reusable || this.closed || c.closed) {
      c.destroy();
      this.open.delete(c);
      const at = this.idle.indexOf(c);
      if (at >= 0) this.idle.splice(at, 1);
      if (this.closing && this.open.size === 0) this.closing();
      return this.dequeue();
    }
    const next = this.queue.shift();
    if (next) return c.send(next);
    const serverMs = c.serverIdleMs;
    const keepMs = serverMs === undefined ? this.o.idleMs : Math.min(this.o.idleMs, serverMs - SERVER_IDLE_MARGIN_MS);
    if (keepMs <= 0) return this.released(c, false);
    c.socket.setTimeout(keepMs);
    c.socket.unref();
    this.idle.push(c);
  };

  /** A connection went away: the next queued request opens one. */
  private dequeue(): void {
    const next = this.queue.shift();
    if (!next) return;
    const idle = this.take();
    if (idle) return idle.send(next);
    this.connect(next);
  }

  /**
   * No new requests; queued ones fail; idle connections close at once, busy ones when their
   * exchange ends or after `graceMs`.
   */
  close(graceMs: number): Promise<void> {
    // Closed already: the same wait (a second closing would replace the first's, which never settled).
    this.closedWait ??= this.closeNow(graceMs);
    return this.closedWait;
  }

  private closedWait: Promise<void> | undefined;

  private closeNow(graceMs: number): Promise<void> {
    this.closed = true;
    for (const ex of this.queue.splice(0)) {
      const done = ex.done;
      ex.done = undefined;
      ex.over();
      done?.(poolClosed());
    }
    for (const c of this.idle.splice(0)) this.released(c, false);
    if (this.open.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        // A busy connection is aborted, so its exchange is told (and released by it); destroying it
        // here would leave its caller, or its streamed body's reader, waiting for ever.
        for (const c of [...this.open]) {
          if (c.busy) c.abort(poolClosed());
          else this.released(c, false);
        }
      }, graceMs);
      timer.unref();
      this.closing = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

function poolClosed(): ConnectionLost {
  return new ConnectionLost('upstream connection pool closed', 'TOLLGATE_POOL_CLOSED');
}

// One keep-alive connection to an upstream, one exchange at a time: writes a request, reads its
// response (head, then a body gathered whole or streamed), and hands itself back to its pool saying
// whether it can carry another. Anything unexpected (bytes nobody asked for, a malformed response,
// a body cut short) closes it: a connection is reused only after a response read exactly to its end.
import type { Socket } from 'node:net';
import { ChunkedDecoder } from './chunked.js';
import { MAX_HEAD_BYTES, MalformedResponse, parseHead, type ResponseHead } from './response-head.js';
import { StreamedBody } from './streamed-body.js';
import {
  asLost,
  ConnectionLost,
  IncompleteBody,
  incomplete,
  type H1Response,
  type ResponseCallback,
} from './answer.js';

export { ConnectionLost, IncompleteBody, type H1Response, type ResponseCallback } from './answer.js';

export interface Exchange {
  /** The request's bytes (request-text.ts): a string written as UTF-8, or a Buffer. */
  text: string | Buffer;
  /** A Content-Length body up to this many bytes is gathered whole; a longer one is streamed. */
  fullBytes: number;
  /** Told once: the response (at its end when gathered whole, at its head when streamed), or why none. */
  done: ResponseCallback | undefined;
  /** Told when the exchange is over, response read or not (the pool drops its abort listener). */
  over(): void;
  /** The connection it was sent on (set by send): an abort must reach it, however the exchange got there. */
  sentOn?: Connection | undefined;
}

const EMPTY = Buffer.alloc(0);
/** 1xx responses (100 Continue, 103 Early Hints) one exchange may see before its answer. */
const MAX_INFORMATIONAL = 8;

export class Connection {
  private ex: Exchange | undefined;
  private phase: 'idle' | 'head' | 'full' | 'stream' = 'idle';
  /** The head's bytes so far, kept as they came (one copy when it is complete, not one per piece). */
  private headBytes: Buffer[] = [];
  private headLength = 0;
  private headTail: Buffer = EMPTY;
  /** 1xx responses before this exchange's final one. */
  private informational = 0;
  private status = 0;
  private headers: Record<string, string | string[]> = {};
  private gathered: Buffer[] = [];
  private gatheredBytes = 0;
  private needed = 0;
  private body: StreamedBody | undefined;
  private decoder: ChunkedDecoder | undefined;
  /** Bytes of a streamed Content-Length body still to come; -1 when the close ends the body. */
  private remaining = 0;
  private reusable = false;
  /** The server's idle timeout for this connection (Keep-Alive: timeout=N), when it gave one. */
  serverIdleMs: number | undefined;
  closed = false;

  constructor(
    readonly socket: Socket,
    private readonly released: (c: Connection, reusable: boolean) => void,
  ) {
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('end', () => this.lost(undefined));
    socket.on('close', () => this.lost(undefined));
    socket.on('error', (err: Error) => this.lost(err));
  }

  get busy(): boolean {
    return this.ex !== undefined;
  }

  send(ex: Exchange): void {
    ex.sentOn = this;
    this.ex = ex;
    this.phase = 'head';
    this.informational = 0;
    this.socket.write(ex.text);
  }

  /** The caller gave up on the exchange (cancelled, timed out): the connection is closed. */
  abort(err: Error): void {
    if (this.ex) this.end(err);
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private onData(d: Buffer): void {
    if (this.closed) return;
    if (this.phase === 'idle') return this.end(new MalformedResponse('bytes sent with no request outstanding'));
    try {
      this.consume(d);
    } catch (err) {
      this.end(err as Error);
    }
  }

  private consume(d: Buffer): void {
    let input = d;
    while (input.length > 0 && !this.closed) {
      if (this.phase === 'head') {
        const end = this.headEnd(input);
        if (end < 0) return;
        const buf = this.headBytes.length === 1 ? (this.headBytes[0] as Buffer) : Buffer.concat(this.headBytes);
        this.headBytes = [];
        this.headLength = 0;
        this.headTail = EMPTY;
        const head = parseHead(buf.toString('latin1', 0, end));
        input = buf.subarray(end + 4);
        if (head.status === 101) throw new MalformedResponse('unexpected 101 Switching Protocols');
        if (head.status >= 200) this.started(head, input.length);
        else if (++this.informational > MAX_INFORMATIONAL)
          throw new MalformedResponse(`more than ${MAX_INFORMATIONAL} informational responses`);
        continue;
      }
      if (this.phase === 'full') {
        const take = Math.min(this.needed - this.gatheredBytes, input.length);
        this.gathered.push(input.subarray(0, take));
        this.gatheredBytes += take;
        input = input.subarray(take);
        if (this.gatheredBytes === this.needed) return this.finishFull(input.length > 0);
        continue;
      }
      if (this.phase === 'stream') {
        input = this.streamed(input);
        continue;
      }
      // A response already read: more bytes are an upstream out of step with us.
      this.reusable = false;
      return;
    }
  }

  /**
   * Keeps `input` as part of the head; returns where the head ends (its CRLFCRLF) in the bytes kept,
   * or -1 when it has not ended yet. Throws once the head is over MAX_HEAD_BYTES.
   */
  private headEnd(input: Buffer): number {
    const before = this.headLength;
    // The blank line may straddle the pieces: search from the last three bytes kept, whatever
    // pieces they came in.
    const carry = this.headTail;
    const probe = carry.length > 0 ? Buffer.concat([carry, input]) : input;
    const found = probe.indexOf('\r\n\r\n', 0, 'latin1');
    if (found < 0) this.headTail = Buffer.from(probe.subarray(Math.max(0, probe.length - 3)));
    this.headBytes.push(input);
    this.headLength += input.length;
    const end = found < 0 ? -1 : before - (probe.length - input.length) + found;
    if (end < 0 ? this.headLength > MAX_HEAD_BYTES : end > MAX_HEAD_BYTES)
      throw new MalformedResponse(`response head over ${MAX_HEAD_BYTES} bytes`);
    return end;
  }

  private started(head: ResponseHead, following: number): void {
    this.status = head.status;
    this.headers = head.headers;
    this.reusable = head.keepAlive;
    this.serverIdleMs = head.idleMs;
    const f = head.framing;
    if (f.kind === 'none' || (f.kind === 'length' && f.bytes === 0)) {
      this.phase = 'full';
      this.needed = 0;
      if (following === 0) this.finishFull(false);
      else this.reusable = false; // finished below, by consume's next turn, with the extra bytes noted
      return;
    }
    if (f.kind === 'length' && this.ex && f.bytes <= this.ex.fullBytes) {
      this.phase = 'full';
      this.needed = f.bytes;
      return;
    }
    this.phase = 'stream';
    this.decoder = f.kind === 'chunked' ? new ChunkedDecoder() : undefined;
    this.remaining = f.kind === 'length' ? f.bytes : -1;
    // Only while it is this connection's body: once read to its end the connection may carry another
    // exchange, which a late read (resume) or a reader dropping the unread rest (end) must not touch.
    const body: StreamedBody = new StreamedBody(
      () => {
        if (this.body === body) this.socket.resume();
      },
      () => {
        if (this.body === body) this.end(new IncompleteBody('response body abandoned by its reader'));
      },
    );
    this.body = body;
    this.answer({ statusCode: this.status, headers: this.headers, full: undefined, body });
  }

  private finishFull(extra: boolean): void {
    const full =
      this.gathered.length === 0
        ? EMPTY
        : this.gathered.length === 1
          ? (this.gathered[0] as Buffer)
          : Buffer.concat(this.gathered);
    this.gathered = [];
    this.gatheredBytes = 0;
    const res: H1Response = { statusCode: this.status, headers: this.headers, full, body: undefined };
    // Released first: the callback may send the next request on this very connection.
    const ex = this.ex;
    this.finished(extra);
    if (ex) {
      const done = ex.done;
      ex.done = undefined;
      done?.(undefined, res);
    }
  }

  /** Feeds a streamed body; returns what is left of `input` past its end. */
  private streamed(input: Buffer): Buffer {
    const body = this.body as StreamedBody;
    if (this.decoder) {
      const used = this.decoder.feed(input, (piece) => this.push(body, piece));
      if (!this.decoder.done) return EMPTY;
      body.push(null);
      this.finished(used < input.length);
      return EMPTY;
    }
    if (this.remaining < 0) {
      this.push(body, input);
      return EMPTY;
    }
    const take = Math.min(this.remaining, input.length);
    this.push(body, input.subarray(0, take));
    this.remaining -= take;
    if (this.remaining > 0) return EMPTY;
    body.push(null);
    this.finished(take < input.length);
    return EMPTY;
  }

  private push(body: StreamedBody, piece: Buffer): void {
    if (piece.length > 0 && !body.push(piece)) this.socket.pause();
  }

  private answer(res: H1Response): void {
    const done = this.ex?.done;
    if (this.ex) this.ex.done = undefined;
    done?.(undefined, res);
  }

  /** The response was read to its end: the connection goes back to its pool. */
  private finished(extra: boolean): void {
    const ex = this.ex;
    this.ex = undefined;
    this.body = undefined;
    this.decoder = undefined;
    this.phase = 'idle';
    // A streamed body's reader may have paused the socket (backpressure) before its last bytes: the
    // connection reads again, for its next exchange.
    this.socket.resume();
    ex?.over();
    // An answer that came before the whole request was written (an early error) leaves the rest of
    // the request to be read by the server as the next one: such a connection is not reused.
    this.released(this, this.reusable && !extra && this.socket.writableLength === 0);
  }

  /** The socket ended or failed. A body read to the close ends normally; anything else fails. */
  private lost(err: Error | undefined): void {
    if (this.closed) return;
    if (!err && this.phase === 'stream' && this.remaining < 0 && !this.decoder) {
      this.body?.push(null);
      this.reusable = false;
      this.finished(false);
      return;
    }
    this.end(
      err ?? new ConnectionLost('upstream closed the connection', 'TOLLGATE_UPSTREAM_CLOSED'),
      err === undefined,
    );
  }

  /** Closes the connection; the exchange in progress, if any, fails with `err`. */
  private end(err: Error, closedByPeer = false): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    const ex = this.ex;
    const body = this.body;
    const phase = this.phase;
    this.ex = undefined;
    this.body = undefined;
    this.phase = 'idle';
    if (ex) {
      const done = ex.done;
      ex.done = undefined;
      if (phase === 'head' && done) done(closedByPeer ? err : asLost(err));
      else if (done) done(err instanceof IncompleteBody || err instanceof MalformedResponse ? err : incomplete(err));
      else body?.fail(err instanceof IncompleteBody ? err : incomplete(err));
      ex.over();
    }
    this.released(this, false);
  }
}

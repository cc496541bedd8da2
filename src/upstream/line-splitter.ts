// Newline-delimited messages from a byte stream (a stdio upstream's stdout and stderr), in linear
// time and bounded memory. Each chunk is searched for a newline once; a line's pieces are joined
// once, when its newline arrives. A line over `maxBytes` is cut as its bytes arrive: nothing more of
// it is kept, the rest is skipped up to its newline, and the stream stays usable for the next line.
//
// Before this, each chunk was appended to one string and the whole string searched again: a 40 MiB
// line took 20 s to split (quadratic) and stalled every agent; the cap was checked only after that.

/** What can be told of a line that was cut: which request it answered, when that can be read. */
export interface CutLine {
  /** Bytes seen of the line so far (at least `maxBytes + 1`). */
  bytes: number;
  /** The top-level `"id"` of the JSON-RPC message, when it could be read (a number). */
  id: number | undefined;
  /** The line looks like a response (a top-level `result` or `error` key came before the cut). */
  response: boolean;
  /** Called as soon as the line crosses the cap (with what its head tells) or at its end (with its tail too). */
  final: boolean;
}

export interface LineSink {
  line(text: string): void;
  /** A line over the cap. Called once when the cap is crossed and the head names the id, and once at the line's end. */
  cut(info: CutLine): void;
}

/** How much of a cut line's start is kept to find its id: JSON-RPC messages put it near the front. */
const HEAD_BYTES = 64 * 1024;
/** How much of a cut line's end is kept: some servers write the id after the result. */
const TAIL_BYTES = 256;
const NEWLINE = 0x0a;

export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  /** Set while skipping a line over the cap. */
  private skipping:
    | { bytes: number; tail: Buffer; id: number | undefined; response: boolean; request: boolean }
    | undefined;

  constructor(
    private readonly maxBytes: number,
    private readonly sink: LineSink,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl < 0) {
        if (start < chunk.length) this.append(chunk.subarray(start));
        return;
      }
      if (this.parts.length === 0 && !this.skipping) {
        // The common case: a whole line inside one chunk.
        if (nl - start > this.maxBytes) this.append(chunk.subarray(start, nl));
        else this.emit(chunk.toString('utf8', start, nl));
      } else {
        this.append(chunk.subarray(start, nl));
      }
      this.endLine();
      start = nl + 1;
    }
  }

  private append(piece: Buffer): void {
    const s = this.skipping;
    if (s) {
      s.bytes += piece.length;
      s.tail =
        piece.length >= TAIL_BYTES
          ? Buffer.from(piece.subarray(piece.length - TAIL_BYTES))
          : Buffer.concat([s.tail, piece]).subarray(-TAIL_BYTES);
      return;
    }
    if (this.size + piece.length <= this.maxBytes) {
      this.parts.push(piece);
      this.size += piece.length;
      return;
    }
    // Over the cap: keep only the head (to name the call) and the tail, from now on.
    const all = [...this.parts, piece];
    const head = Buffer.concat(all, Math.min(HEAD_BYTES, this.size + piece.length));
    const { id, response, request } = headFacts(head);
    this.skipping = {
      bytes: this.size + piece.length,
      request: request === true,
      tail: Buffer.from(piece.subarray(Math.max(0, piece.length - TAIL_BYTES))),
      id,
      response,
    };
    this.parts = [];
    this.size = 0;
    if (id !== undefined) this.sink.cut({ bytes: this.skipping.bytes, id, response, final: false });
  }

  private endLine(): void {
    const s = this.skipping;
    if (s) {
      this.skipping = undefined;
      // A request of the server's carries its own id space: a trailing id then names none of our calls.
      const id = s.id ?? (s.request ? undefined : tailId(s.tail));
      this.sink.cut({ bytes: s.bytes, id, response: s.response || id !== undefined, final: true });
      return;
    }
    const text =
      this.parts.length === 1
        ? (this.parts[0] as Buffer).toString('utf8')
        : Buffer.concat(this.parts, this.size).toString('utf8');
    this.parts = [];
    this.size = 0;
    this.emit(text);
  }

  private emit(text: string): void {
    const line = text.trim();
    if (line) this.sink.line(line);
  }
}

/**
 * What the start of a JSON object says: its top-level `"id"` (a number) and whether it is a
 * response (a top-level `result` or `error` key; a `method` key makes it a request of the server's,
 * whose id is the server's own and names none of our calls). One pass tracking strings and depth;
 * never parses.
 */
export function headFacts(head: Buffer): { id: number | undefined; response: boolean; request?: true } {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let stringStart = 0;
  let key: string | undefined;
  let afterColon = false;
  let id: number | undefined;
  for (let i = 0; i < head.length; i++) {
    const b = head[i] as number;
    if (inString) {
      if (escaped) escaped = false;
      else if (b === 0x5c) escaped = true;
      else if (b === 0x22) {
        inString = false;
        if (depth === 1 && !afterColon && i - stringStart <= 16) key = head.toString('latin1', stringStart, i);
      }
      continue;
    }
    if (b === 0x22) {
      inString = true;
      stringStart = i + 1;
    } else if (b === 0x7b || b === 0x5b) depth++;
    else if (b === 0x7d || b === 0x5d) depth--;
    else if (depth === 1 && b === 0x2c) {
      afterColon = false;
      key = undefined;
    } else if (depth === 1 && b === 0x3a) {
      afterColon = true;
      if (key === 'result' || key === 'error') return { id, response: true };
      if (key === 'method') return { id: undefined, response: false, request: true };
      if (key === 'id') {
        const m = /^\s*(\d{1,15})\s*[,}]/.exec(head.toString('latin1', i + 1, i + 40));
        if (m) id = Number(m[1]);
      }
    }
  }
  return { id: undefined, response: false };
}

/** An id written last: `…,"id":42}` at the very end of the line. */
function tailId(tail: Buffer): number | undefined {
  const m = /[,{]\s*"id"\s*:\s*(\d{1,15})\s*\}\s*$/.exec(tail.toString('latin1'));
  return m ? Number(m[1]) : undefined;
}

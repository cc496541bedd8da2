// A chunked body (RFC 9112 §7.1) decoded as its bytes arrive: the SSE answers of Streamable HTTP
// upstreams come this way. Sizes, extensions and trailers are bounded and checked: a size line
// without its CRLF, a chunk without its CRLF after the data, or a size over 4 GiB ends the body.
import { MAX_HEAD_BYTES, MalformedResponse } from './response-head.js';

const SIZE_LINE = /^([0-9a-fA-F]{1,8})[ \t]*(?:;[\t\x20-\x7e\x80-\xff]*)?$/;
/** A size line with its extensions may take this much. */
const MAX_SIZE_LINE = 4096;

type State = 'size' | 'data' | 'data-end' | 'trailers' | 'done';

export class ChunkedDecoder {
  private state: State = 'size';
  /** Pieces of a line (size line or trailer) not complete yet, kept as they came (one copy at its end). */
  private line: Buffer[] = [];
  private lineBytes = 0;
  private remaining = 0;
  private trailerBytes = 0;

  get done(): boolean {
    return this.state === 'done';
  }

  /**
   * Decodes `input`, handing each piece of body to `data`. Returns how many bytes of `input` were
   * the body's: all of them until the last chunk and its trailers end it. Throws MalformedResponse.
   */
  feed(input: Buffer, data: (piece: Buffer) => void): number {
    let at = 0;
    while (at < input.length && this.state !== 'done') {
      if (this.state === 'data') {
        const take = Math.min(this.remaining, input.length - at);
        data(input.subarray(at, at + take));
        at += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = 'data-end';
        continue;
      }
      const lf = input.indexOf(0x0a, at);
      if (lf < 0) {
        this.keep(input.subarray(at));
        return input.length;
      }
      const line = this.take(input.subarray(at, lf));
      at = lf + 1;
      this.onLine(line);
    }
    return at;
  }

  private keep(piece: Buffer): void {
    this.line.push(piece);
    this.lineBytes += piece.length;
    this.bound(this.lineBytes);
  }

  /** The line ending at an LF: what was kept before and `piece`, without its CR (a bare LF is refused). */
  private take(piece: Buffer): string {
    const bytes = this.line.length === 0 ? piece : Buffer.concat([...this.line, piece]);
    this.line = [];
    this.lineBytes = 0;
    if (bytes.length === 0 || bytes[bytes.length - 1] !== 0x0d) throw new MalformedResponse('bare LF in chunked body');
    this.bound(bytes.length - 1);
    return bytes.toString('latin1', 0, bytes.length - 1);
  }

  private bound(length: number): void {
    if (this.state === 'size' && length > MAX_SIZE_LINE) throw new MalformedResponse('chunk size line too long');
    if (this.state === 'data-end' && length > 1) throw new MalformedResponse('chunk data longer than its size');
    if (this.state === 'trailers' && this.trailerBytes + length > MAX_HEAD_BYTES)
      throw new MalformedResponse('trailers too long');
  }

  private onLine(line: string): void {
    if (this.state === 'data-end') {
      if (line !== '') throw new MalformedResponse('chunk data longer than its size');
      this.state = 'size';
      return;
    }
    if (this.state === 'trailers') {
      this.trailerBytes += line.length + 2;
      if (line === '') this.state = 'done';
      else if (/[\r\n\0]/.test(line) || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:/.test(line))
        throw new MalformedResponse('bad trailer line');
      return;
    }
    const m = SIZE_LINE.exec(line);
    if (!m) throw new MalformedResponse('bad chunk size line');
    this.remaining = Number.parseInt(m[1] as string, 16);
    this.state = this.remaining === 0 ? 'trailers' : 'data';
  }
}

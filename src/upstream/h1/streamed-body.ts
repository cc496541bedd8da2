// A response body read as it arrives (chunked, read to the close, or larger than is gathered at
// once): a Readable fed by its connection, which stops reading the socket while the reader is
// behind (backpressure) and closes the connection when the reader gives up on the body.
import { Readable } from 'node:stream';

/** What dump() reads and drops before it closes the connection instead (as undici's does). */
const DUMP_LIMIT = 128 * 1024;

export class StreamedBody extends Readable {
  constructor(
    /** The reader wants more: the socket may be read again. */
    private readonly wanted: () => void,
    /** The reader destroyed the body before its end: the connection is closed. */
    private readonly abandoned: () => void,
  ) {
    super();
  }

  override _read(): void {
    this.wanted();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    if (!this.readableEnded) this.abandoned();
    done(err);
  }

  /** Ends the body when the connection failed under it: an error only for a reader listening for one. */
  fail(err: Error): void {
    this.destroy(this.listenerCount('error') > 0 ? err : undefined);
  }

  /** Reads the rest and drops it; resolves at its end (or its failure). */
  dump(): Promise<void> {
    if (this.readableEnded || this.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      let seen = 0;
      this.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (seen > DUMP_LIMIT) this.destroy();
      });
      this.on('error', () => undefined);
      this.once('close', resolve);
      this.resume();
    });
  }
}

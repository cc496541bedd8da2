// Sending written audit lines to an HTTP collector: a bounded queue, batches, retries with exponential
// backoff (and jitter), one request at a time. Lines are offered AFTER the primary log has them, and
// offer() only queues: a slow or dead collector never delays a call and never costs the primary log
// anything; when the queue is full, new lines are dropped and counted (a Prometheus counter).
import type { ExportTarget } from '../sign-schema.js';

export interface ExportStats {
  /** Lines the collector accepted. */
  sent: number;
  /** Lines given up: queue full, refused by the collector (4xx), or still queued at shutdown. */
  dropped: number;
  /** Failed attempts (each retried later). */
  failures: number;
  queued: number;
}

export interface Encoded {
  body: string;
  contentType: string;
}

export interface AuditExporter {
  readonly name: string;
  readonly stats: ExportStats;
  offer(lines: readonly string[]): void;
  /** Sends what is queued, once, within the request timeout; the rest is counted as dropped. */
  close(): Promise<void>;
}

type Outcome = 'ok' | 'retry' | 'refused';

export class BatchExporter implements AuditExporter {
  private readonly queue: string[] = [];
  private readonly counts = { sent: 0, dropped: 0, failures: 0 };
  private flushTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoff = 0;
  private sending: Promise<void> | undefined;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly target: ExportTarget,
    private readonly encode: (lines: readonly string[]) => Encoded,
    private readonly onError: (err: Error) => void,
    private readonly accept: (line: string) => boolean = () => true,
  ) {}

  get stats(): ExportStats {
    return { ...this.counts, queued: this.queue.length };
  }

  offer(lines: readonly string[]): void {
    if (this.closed) return;
    const max = this.target.queueSize;
    for (const l of lines) {
      if (!this.accept(l)) continue;
      if (this.queue.length >= max) this.counts.dropped++;
      else this.queue.push(l);
    }
    if (this.queue.length >= this.target.batchSize) this.pump();
    else if (this.queue.length > 0 && !this.flushTimer) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        this.pump();
      }, this.target.flushMs);
      this.flushTimer.unref();
    }
  }

  private pump(): void {
    if (this.sending || this.retryTimer || this.closed) return;
    this.sending = this.drain().finally(() => (this.sending = undefined));
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.closed) {
      const batch = this.queue.slice(0, this.target.batchSize);
      const outcome = await this.send(batch, this.target.timeoutMs);
      if (outcome === 'retry') {
        this.counts.failures++;
        this.backoff =
          this.backoff === 0 ? this.target.retryInitialMs : Math.min(this.backoff * 2, this.target.retryMaxMs);
        const delay = Math.round(this.backoff * (0.5 + Math.random() / 2));
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.pump();
        }, delay);
        this.retryTimer.unref();
        return;
      }
      this.backoff = 0;
      this.queue.splice(0, batch.length);
      if (outcome === 'ok') this.counts.sent += batch.length;
      else this.counts.dropped += batch.length;
    }
  }

  private async send(batch: readonly string[], timeoutMs: number): Promise<Outcome> {
    let encoded: Encoded;
    try {
      encoded = this.encode(batch);
    } catch (err) {
      this.onError(new Error(`audit export ${this.name}: cannot encode a batch: ${(err as Error).message}`));
      return 'refused';
    }
    try {
      const res = await fetch(this.target.url, {
        method: 'POST',
        headers: { ...this.target.headers, 'content-type': encoded.contentType },
        body: encoded.body,
        redirect: 'manual', // a redirect is an answer (refused), not somewhere else to send the log
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body?.cancel().catch(() => {});
      if (res.ok) return 'ok';
      const retry = res.status === 408 || res.status === 429 || res.status >= 500;
      this.onError(
        new Error(
          `audit export ${this.name}: HTTP ${res.status}${retry ? ', will retry' : ': refused, batch dropped'}`,
        ),
      );
      return retry ? 'retry' : 'refused';
    } catch (err) {
      this.onError(new Error(`audit export ${this.name}: ${(err as Error).message}, will retry`));
      return 'retry';
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.flushTimer);
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.sending;
    this.closed = true;
    // One last attempt per batch, within one request timeout in all: shutdown must not hang.
    const deadline = Date.now() + this.target.timeoutMs;
    while (this.queue.length > 0 && Date.now() < deadline) {
      const batch = this.queue.splice(0, this.target.batchSize);
      const outcome = await this.send(batch, Math.max(1, deadline - Date.now()));
      if (outcome === 'ok') this.counts.sent += batch.length;
      else {
        this.counts.dropped += batch.length;
        break;
      }
    }
    this.counts.dropped += this.queue.length;
    this.queue.length = 0;
  }
}

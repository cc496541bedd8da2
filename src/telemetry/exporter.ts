// The span exporter: OTLP/HTTP with a JSON body, one POST per batch (the BatchSpanProcessor sends
// one batch at a time and drops spans when its bounded queue is full). Never throws into the
// gateway: a failed or slow collector costs the spans of that batch and one log line a minute.
import type { Attributes } from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import type { Logger } from 'pino';
import { encodeSpans } from './encode.js';

type ExportCallback = Parameters<SpanExporter['export']>[1];

export interface OtlpExporterOptions {
  url: string;
  headers: Readonly<Record<string, string>>;
  timeoutMs: number;
  resource: Attributes;
  scope: { name: string; version: string };
  log: Logger;
}

export class OtlpJsonExporter implements SpanExporter {
  private readonly inFlight = new Set<Promise<void>>();
  private lastWarnAt = 0;
  private failedSinceWarn = 0;
  private stopped = false;
  /** Batches sent and refused (for tests and the shutdown log). */
  readonly counts = { sent: 0, failed: 0 };

  constructor(private readonly opts: OtlpExporterOptions) {}

  export(spans: ReadableSpan[], done: ExportCallback): void {
    if (this.stopped) return done({ code: 1, error: new Error('exporter shut down') });
    const p = this.post(spans).then(
      () => {
        this.counts.sent++;
        done({ code: 0 });
      },
      (err: unknown) => {
        this.counts.failed++;
        this.warn(err, spans.length);
        done({ code: 1, error: err instanceof Error ? err : new Error(String(err)) });
      },
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async post(spans: readonly ReadableSpan[]): Promise<void> {
    const res = await fetch(this.opts.url, {
      method: 'POST',
      headers: { ...this.opts.headers, 'content-type': 'application/json' },
      body: encodeSpans(spans, this.opts.resource, this.opts.scope),
      // A redirect is a failed export: followed, it would resend the spans and the export headers
      // (a collector key: fetch drops only Authorization across origins) wherever it points.
      redirect: 'manual',
      signal: AbortSignal.timeout(this.opts.timeoutMs),
    });
    // The body (a partial-success report, or an error) is not read: it could be anything.
    await res.body?.cancel();
    if (!res.ok) throw new Error(`collector answered HTTP ${res.status}`);
  }

  /** At most one warning a minute, counting what it stands for. */
  private warn(err: unknown, spans: number): void {
    this.failedSinceWarn += spans;
    const now = Date.now();
    if (now - this.lastWarnAt < 60_000) return;
    this.lastWarnAt = now;
    this.opts.log.warn(
      { err: err instanceof Error ? err.message : String(err), spansDropped: this.failedSinceWarn, url: this.opts.url },
      'trace export failed: spans dropped',
    );
    this.failedSinceWarn = 0;
  }

  async forceFlush(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    this.stopped = true;
  }
}

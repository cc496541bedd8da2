// The tracer: OpenTelemetry's SDK (sampling, span objects, the bounded batch queue) with our OTLP/HTTP
// JSON exporter. One per gateway, made only when `telemetry:` turns tracing on.
import type { Tracer } from '@opentelemetry/api';
import type { Sampler, SpanExporter, TracerProvider } from '@opentelemetry/sdk-trace';
import type { Logger } from 'pino';
import { loadWhenUsed } from '../load-when-used.js';
import { VERSION } from '../version.js';
import type { TelemetryConfig } from './config.js';
import { OtlpJsonExporter } from './exporter.js';

export const SCOPE = { name: 'tollgate', version: VERSION };

const sdk = loadWhenUsed<typeof import('@opentelemetry/sdk-trace')>('@opentelemetry/sdk-trace');

export class Tracing {
  readonly tracer: Tracer;
  private readonly provider: TracerProvider;

  constructor(cfg: TelemetryConfig, log: Logger, instanceId: string, exporter?: SpanExporter) {
    const { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider } = sdk();
    const root = new TraceIdRatioBasedSampler(cfg.ratio);
    const sampler: Sampler = cfg.parentBased ? new ParentBasedSampler({ root }) : root;
    const out =
      exporter ??
      new OtlpJsonExporter({
        url: cfg.tracesUrl,
        headers: cfg.headers,
        timeoutMs: cfg.timeoutMs,
        resource: { 'service.name': cfg.serviceName, 'service.version': VERSION, 'service.instance.id': instanceId },
        scope: SCOPE,
        log,
      });
    this.provider = new TracerProvider({
      sampler,
      // Bounded spans: names and ids come from agents.
      spanLimits: { attributeCountLimit: 64, attributeValueLengthLimit: 512, eventCountLimit: 16, linkCountLimit: 4 },
      spanProcessors: [
        new BatchSpanProcessor({
          exporter: out,
          maxQueueSize: cfg.maxQueue,
          maxExportBatchSize: cfg.maxBatch,
          scheduledDelayMillis: cfg.delayMs,
          exportTimeoutMillis: cfg.timeoutMs,
        }),
      ],
    });
    this.tracer = this.provider.getTracer(SCOPE.name, SCOPE.version);
  }

  /** Sends what is queued (tests, shutdown). */
  flush(): Promise<void> {
    return this.provider.forceFlush();
  }

  /** Flushes what is queued and stops; a collector that does not answer holds a shutdown up 5 s at most. */
  close(): Promise<void> {
    return Promise.race([this.provider.shutdown(), new Promise<void>((resolve) => setTimeout(resolve, 5000).unref())]);
  }
}

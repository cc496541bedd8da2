// The runtime form of `telemetry:` (frozen with the rest of the config).
import { toMs } from '../config/runtime-units.js';
import type { TelemetryInput } from './schema.js';

export interface TelemetryConfig {
  serviceName: string;
  /** Full URL spans are POSTed to (`<endpoint>/v1/traces`). */
  tracesUrl: string;
  headers: Readonly<Record<string, string>>;
  timeoutMs: number;
  ratio: number;
  parentBased: boolean;
  maxQueue: number;
  maxBatch: number;
  delayMs: number;
}

/** undefined when tracing is off (no section, `enabled: false`, or no endpoint). */
export function toTelemetryRuntime(t: TelemetryInput): TelemetryConfig | undefined {
  if (!t?.enabled || !t.otlp) return undefined;
  const base = t.otlp.endpoint.replace(/\/+$/, '');
  return {
    serviceName: t.service_name,
    tracesUrl: base.endsWith('/v1/traces') ? base : `${base}/v1/traces`,
    headers: t.otlp.headers,
    timeoutMs: toMs(t.otlp.timeout),
    ratio: t.sampling.ratio,
    parentBased: t.sampling.parent_based,
    maxQueue: t.batch.max_queue,
    maxBatch: t.batch.max_batch,
    delayMs: toMs(t.batch.delay),
  };
}

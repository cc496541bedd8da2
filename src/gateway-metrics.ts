// The gateway's Prometheus metrics and what feeds them; separate so gateway.ts keeps to assembly.
import type { AuditRecorder } from './audit/step.js';
import { registerExportMetrics } from './audit/export/metrics.js';
import { GatewayMetrics, type MetricsSources } from './ops/metrics.js';
import { liveProcesses } from './upstream/stdio-channel.js';

/** Gauges read their sources on scrape; the counters are fed by every audit record and write. */
export function gatewayMetrics(
  recorder: AuditRecorder,
  sources: Omit<MetricsSources, 'stdioProcesses'>,
): GatewayMetrics {
  const metrics = new GatewayMetrics({ ...sources, stdioProcesses: liveProcesses });
  recorder.onRecord((r) => metrics.observe(r));
  recorder.observeWrite = (seconds) => metrics.auditWrite.observe(seconds);
  registerExportMetrics(metrics.registry, () => recorder.exporters);
  return metrics;
}

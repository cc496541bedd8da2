// Prometheus metrics of the audit exporters, read from their counters at scrape time.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AuditExporter, ExportStats } from './queue.js';

export function registerExportMetrics(registry: Registry, exporters: () => readonly AuditExporter[]): void {
  const registers = [registry];
  const counter = (name: string, help: string, key: keyof ExportStats) =>
    new Counter({
      name,
      help,
      labelNames: ['exporter'],
      registers,
      collect() {
        this.reset();
        for (const e of exporters()) this.inc({ exporter: e.name }, e.stats[key]);
      },
    });
  counter('tollgate_audit_export_sent_total', 'Audit lines accepted by an export collector (otlp, webhook)', 'sent');
  counter(
    'tollgate_audit_export_dropped_total',
    'Audit lines not exported: queue full, refused by the collector, or queued at shutdown (the audit log has them)',
    'dropped',
  );
  counter('tollgate_audit_export_failures_total', 'Failed export requests (retried with backoff)', 'failures');
  new Gauge({
    name: 'tollgate_audit_export_queue',
    help: 'Audit lines waiting to be exported',
    labelNames: ['exporter'],
    registers,
    collect() {
      this.reset();
      for (const e of exporters()) this.set({ exporter: e.name }, e.stats.queued);
    },
  });
}

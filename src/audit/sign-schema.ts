// Config for the audit log's signed checkpoints and its export to security tooling (the `audit:`
// keys below are spread into the main schema's audit object), and their frozen runtime form.
import { resolve } from 'node:path';
import { z } from 'zod';
import { duration } from '../config/primitives.js';
import { toMs } from '../config/runtime-units.js';

const exportQueue = {
  headers: z
    .record(z.string(), z.string())
    .default({})
    .describe('HTTP headers sent with every request, e.g. Authorization: "Bearer ${SIEM_TOKEN}"'),
  batch_size: z.number().int().positive().max(10_000).default(200).describe('records per request'),
  flush_interval: duration.default('1s').describe('send a partial batch after this long'),
  queue_size: z
    .number()
    .int()
    .positive()
    .default(10_000)
    .describe('records waiting to be sent; more are dropped and counted (tollgate_audit_export_dropped_total)'),
  timeout: duration.default('10s').describe('per request'),
  retry_initial: duration.default('500ms').describe('first retry delay; doubles per failure'),
  retry_max: duration.default('30s').describe('longest retry delay'),
};

export const auditSignKeys = {
  signing_key_file: z
    .string()
    .optional()
    .describe(
      'Ed25519 private key (PKCS#8 PEM, from `tollgate audit keygen`), relative to this config: the log gets signed checkpoints',
    ),
  checkpoint: z
    .object({
      every_records: z.number().int().positive().default(1000).describe('a checkpoint after this many records'),
      every: duration.default('1m').describe('a checkpoint when a record has waited this long unsigned'),
      heartbeat: duration.default('1h').describe('a checkpoint even when idle, so a cut-off log shows as stale'),
      anchor: z
        .enum(['none', 'log'])
        .default('none')
        .describe('log: also write every checkpoint to the gateway log (a pipeline the writer cannot rewrite)'),
    })
    .strict()
    .prefault({}),
  export: z
    .object({
      otlp: z
        .object({
          endpoint: z.url().describe('OTLP/HTTP logs endpoint, e.g. http://collector:4318/v1/logs (JSON encoding)'),
          service_name: z.string().min(1).default('tollgate'),
          ...exportQueue,
        })
        .strict()
        .optional()
        .describe('OpenTelemetry logs: one log record per audit record, its keys as attributes'),
      webhook: z
        .object({
          url: z.url().describe('receives POST {"records":[…audit lines…]}'),
          only_checkpoints: z.boolean().default(false).describe('send only signed checkpoints (an anchor endpoint)'),
          ...exportQueue,
        })
        .strict()
        .optional(),
    })
    .strict()
    .prefault({})
    .describe('copies of every written line (checkpoints too), sent after the write: never blocking calls'),
};

export interface ExportTarget {
  url: string;
  headers: Readonly<Record<string, string>>;
  batchSize: number;
  flushMs: number;
  queueSize: number;
  timeoutMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
}

export interface AuditSignRuntime {
  signingKeyFile: string | undefined;
  checkpoint: { everyRecords: number; everyMs: number; heartbeatMs: number; anchor: 'none' | 'log' };
  export: {
    otlp: (ExportTarget & { serviceName: string }) | undefined;
    webhook: (ExportTarget & { onlyCheckpoints: boolean }) | undefined;
  };
}

type Parsed = z.output<z.ZodObject<typeof auditSignKeys>>;
type QueueParsed = { [K in keyof typeof exportQueue]: z.output<(typeof exportQueue)[K]> };

const target = (url: string, q: QueueParsed): ExportTarget => ({
  url,
  headers: q.headers,
  batchSize: q.batch_size,
  flushMs: toMs(q.flush_interval),
  queueSize: q.queue_size,
  timeoutMs: toMs(q.timeout),
  retryInitialMs: Math.max(1, toMs(q.retry_initial)),
  retryMaxMs: Math.max(1, toMs(q.retry_max)),
});

export function toAuditSignRuntime(a: Parsed, baseDir: string): AuditSignRuntime {
  const { otlp, webhook } = a.export;
  return {
    signingKeyFile: a.signing_key_file === undefined ? undefined : resolve(baseDir, a.signing_key_file),
    checkpoint: {
      everyRecords: a.checkpoint.every_records,
      everyMs: Math.max(1, toMs(a.checkpoint.every)),
      heartbeatMs: Math.max(1, toMs(a.checkpoint.heartbeat)),
      anchor: a.checkpoint.anchor,
    },
    export: {
      otlp: otlp && { ...target(otlp.endpoint, otlp), serviceName: otlp.service_name },
      webhook: webhook && { ...target(webhook.url, webhook), onlyCheckpoints: webhook.only_checkpoints },
    },
  };
}

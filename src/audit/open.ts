// The audit writer and redactor the config asks for.
import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import type { RuntimeConfig } from '../config/runtime.js';
import { createRedactor } from './redact.js';
import { openAuditWriter } from './writer.js';
import { loadSigningKey } from './checkpoint.js';
import { BatchExporter, type AuditExporter } from './export/queue.js';
import { otlpLogsEncoder, webhookEncoder } from './export/otlp.js';

export const redactorFor = (config: RuntimeConfig) =>
  createRedactor({ keys: [...config.audit.redactKeys], maxValueBytes: config.audit.maxValueBytes });

/** The export sinks of `audit.export`. */
export function openExporters(config: RuntimeConfig, log: Logger): AuditExporter[] {
  const x = config.audit.sign.export;
  const onError = (err: Error) => log.warn({ err: err.message }, 'audit export');
  const out: AuditExporter[] = [];
  if (x.otlp)
    out.push(new BatchExporter('otlp', x.otlp, otlpLogsEncoder(x.otlp.serviceName, config.instanceId), onError));
  if (x.webhook) {
    const only = x.webhook.onlyCheckpoints;
    out.push(
      new BatchExporter('webhook', x.webhook, webhookEncoder, onError, (l) =>
        only ? l.includes('"tollgate.record.kind":"checkpoint"') : true,
      ),
    );
  }
  return out;
}

/** undefined when the audit log is off (`audit.file: null` and not stdout). */
export async function openConfiguredAuditWriter(config: RuntimeConfig, log: Logger) {
  const a = config.audit;
  const destination = a.stdout ? ('stdout' as const) : a.file ? { path: a.file } : undefined;
  if (!destination) return undefined;
  const cp = a.sign.checkpoint;
  const keyFile = a.sign.signingKeyFile;
  const key = keyFile === undefined ? undefined : loadSigningKey(keyFile);
  if (keyFile && (statSync(keyFile).mode & 0o077) !== 0)
    log.warn(
      `audit.signing_key_file ${keyFile} is readable by other users: whoever reads it can sign a rewritten log (chmod 600)`,
    );
  // The anchor in the gateway's own log, whatever log.level says.
  const anchor = cp.anchor === 'log' ? log.child({}, { level: 'info' }) : undefined;
  return openAuditWriter({
    destination,
    rotateBytes: a.rotateBytes,
    rotateDaily: a.rotateDaily,
    fsync: a.fsync,
    redact: redactorFor(config),
    onError: (err) => log.error({ err }, 'audit write failed'),
    instanceId: config.instanceId,
    ...(key && {
      checkpoints: {
        key,
        everyRecords: cp.everyRecords,
        everyMs: cp.everyMs,
        heartbeatMs: cp.heartbeatMs,
        ...(anchor && {
          onCheckpoint: (_line: string, checkpoint: object) => anchor.info({ checkpoint }, 'audit checkpoint'),
        }),
      },
    }),
    exporters: openExporters(config, log),
  });
}

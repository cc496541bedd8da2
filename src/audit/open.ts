// The audit writer and redactor the config asks for.
import type { Logger } from 'pino';
import type { RuntimeConfig } from '../config/runtime.js';
import { createRedactor } from './redact.js';
import { openAuditWriter } from './writer.js';

export const redactorFor = (config: RuntimeConfig) =>
  createRedactor({ keys: [...config.audit.redactKeys], maxValueBytes: config.audit.maxValueBytes });

/** undefined when the audit log is off (`audit.file: null` and not stdout). */
export async function openConfiguredAuditWriter(config: RuntimeConfig, log: Logger) {
  const a = config.audit;
  const destination = a.stdout ? ('stdout' as const) : a.file ? { path: a.file } : undefined;
  if (!destination) return undefined;
  return openAuditWriter({
    destination,
    rotateBytes: a.rotateBytes,
    rotateDaily: a.rotateDaily,
    fsync: a.fsync,
    redact: redactorFor(config),
    onError: (err) => log.error({ err }, 'audit write failed'),
  });
}

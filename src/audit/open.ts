// The audit writer and redactor the config asks for, and with `audit.postgres` the fleet store that
// the writer's file (then the spool) is shipped to; retention of rotated files and rows.
import type { Logger } from 'pino';
import type { RuntimeConfig } from '../config/runtime.js';
import { createRedactor } from './redact.js';
import { GENESIS_HASH } from './record.js';
import { FileSink } from './sinks.js';
import { AuditWriter, openAuditWriter, type AuditWriterOptions } from './writer.js';
import { openAuditFleet, SpoolSink, type AuditFleet } from './pg/fleet.js';
import { pruneFiles, pruneRows } from './retention.js';

export const redactorFor = (config: RuntimeConfig) =>
  createRedactor({ keys: [...config.audit.redactKeys], maxValueBytes: config.audit.maxValueBytes });

export interface OpenedAudit {
  /** undefined when the audit log is off (`audit.file: null` and not stdout). */
  writer: AuditWriter | undefined;
  /** The PostgreSQL store, with `audit.postgres`. */
  fleet: AuditFleet | undefined;
  /** Stops retention and the shipper (after the writer is closed). */
  close(): Promise<void>;
}

const RETENTION_EVERY_MS = 3_600_000;

/** undefined when the audit log is off (`audit.file: null` and not stdout). */
export async function openConfiguredAuditWriter(config: RuntimeConfig, log: Logger) {
  return (await openConfiguredAudit(config, log)).writer;
}

export async function openConfiguredAudit(config: RuntimeConfig, log: Logger): Promise<OpenedAudit> {
  const a = config.audit;
  const destination = a.stdout ? ('stdout' as const) : a.file ? { path: a.file } : undefined;
  if (!destination) return { writer: undefined, fleet: undefined, close: async () => {} };
  const opts: AuditWriterOptions = {
    destination,
    rotateBytes: a.rotateBytes,
    rotateDaily: a.rotateDaily,
    fsync: a.fsync,
    redact: redactorFor(config),
    onError: (err) => log.error({ err }, 'audit write failed'),
  };
  let writer: AuditWriter;
  let fleet: AuditFleet | undefined;
  if (a.postgres && a.file && !a.stdout) {
    // The file is the spool: a record is acknowledged once its line is there, then shipped.
    const spool = a.file;
    fleet = await openAuditFleet(a.postgres, spool, log);
    const { sink, head } = await FileSink.open(spool, opts, Date.now, opts.onError!);
    let start = head;
    if (head === GENESIS_HASH) {
      // A new spool of a chain the table already has (a fresh disk, same chain id): continue that chain.
      start = (await fleet.store.chainHead(fleet.chain).catch(() => undefined)) ?? GENESIS_HASH;
    }
    const shipper = fleet.shipper;
    writer = new AuditWriter(new SpoolSink(sink, () => shipper.wake()), start, opts, spool);
    shipper.start();
  } else writer = await openAuditWriter(opts);

  const file = a.stdout ? undefined : a.file;
  const prune = async () => {
    const now = Date.now();
    try {
      if (file && (a.retentionMs !== undefined || a.retentionFiles !== undefined)) {
        const gone = await pruneFiles(
          file,
          {
            maxAgeMs: a.retentionMs,
            maxFiles: a.retentionFiles,
            ...(fleet ? { mayDelete: (p: string) => fleet!.shipper.isShipped(p) } : {}),
          },
          now,
        );
        if (gone.length > 0) log.info({ files: gone }, 'audit retention: rotated files deleted');
      }
      if (fleet && a.retentionMs !== undefined) {
        const rows = await pruneRows(fleet.store.pool, fleet.store.table, now - a.retentionMs);
        if (rows > 0) log.info({ rows }, 'audit retention: rows deleted');
      }
    } catch (err) {
      log.warn({ err }, 'audit retention failed (tried again later)');
    }
  };
  const retention = a.retentionMs !== undefined || a.retentionFiles !== undefined;
  const timer = retention ? setInterval(() => void prune(), RETENTION_EVERY_MS) : undefined;
  timer?.unref();
  const first = retention ? prune() : Promise.resolve();
  return {
    writer,
    fleet,
    async close() {
      if (timer) clearInterval(timer);
      await first;
      await fleet?.close();
    },
  };
}

// The audit writer and redactor the config asks for, and with `audit.postgres` the fleet store that
// the writer's file (then the spool) is shipped to; retention of rotated files and rows; signed
// checkpoints (audit.signing_key_file) and the export sinks (audit.export).
import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import type { RuntimeConfig } from '../config/runtime.js';
import { createRedactor } from './redact.js';
import { GENESIS_HASH } from './record.js';
import { FileSink } from './sinks.js';
import { AuditWriter, openAuditWriter, type AuditWriterOptions } from './writer.js';
import { openAuditFleet, SpoolSink, type AuditFleet } from './pg/fleet.js';
import { pruneFiles, pruneRows } from './retention.js';
import { loadSigningKey } from './checkpoint.js';
import { BatchExporter, type AuditExporter } from './export/queue.js';
import { otlpLogsEncoder, webhookEncoder } from './export/otlp.js';

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

/** The writer's checkpoint options from `audit.signing_key_file` and `audit.checkpoint`. */
function checkpointOptions(config: RuntimeConfig, log: Logger): Pick<AuditWriterOptions, 'checkpoints'> {
  const cp = config.audit.sign.checkpoint;
  const keyFile = config.audit.sign.signingKeyFile;
  if (keyFile === undefined) return {};
  const key = loadSigningKey(keyFile);
  if ((statSync(keyFile).mode & 0o077) !== 0)
    log.warn(
      `audit.signing_key_file ${keyFile} is readable by other users: whoever reads it can sign a rewritten log (chmod 600)`,
    );
  // The anchor in the gateway's own log, whatever log.level says.
  const anchor = cp.anchor === 'log' ? log.child({}, { level: 'info' }) : undefined;
  return {
    checkpoints: {
      key,
      everyRecords: cp.everyRecords,
      everyMs: cp.everyMs,
      heartbeatMs: cp.heartbeatMs,
      ...(anchor && {
        onCheckpoint: (_line: string, checkpoint: object) => anchor.info({ checkpoint }, 'audit checkpoint'),
      }),
    },
  };
}

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
    instanceId: config.instanceId,
    ...checkpointOptions(config, log),
    exporters: openExporters(config, log),
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
      let known = true;
      const head = await fleet.store.chainHead(fleet.chain).catch((err: unknown) => {
        // No table yet (42P01: the shipper creates it) holds no chain either; anything else: unknown.
        known = (err as { code?: unknown }).code === '42P01';
        return undefined;
      });
      // Where the chain ended is unknown: this spool's records start a chain of their own.
      if (!known) await fleet.ownChain();
      start = head ?? GENESIS_HASH;
    }
    const shipper = fleet.shipper;
    const store = fleet.store;
    const chain = fleet.chain;
    const earlier = { start, lines: (hash: string) => store.chainLinesBackFrom(chain, hash) };
    writer = new AuditWriter(new SpoolSink(sink, () => shipper.wake(), earlier), start, opts, spool);
    shipper.start();
    // fail_closed refuses tool calls until PostgreSQL is known to be reachable: know it before serving.
    if (a.postgres.mode === 'fail_closed') await shipper.settled(10_000);
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

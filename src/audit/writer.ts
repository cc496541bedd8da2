// Audit log writer: JSON Lines through pino, hash-chained, batched, acknowledged only once written.
//
// - Serialization: at append time, alone per record (serialize.ts).
// - Chain: every line ends with `"prev":"<hex SHA-256 of the previous line's bytes, without \n>"`;
//   the first line of a log has GENESIS_HASH; the first line after a rotation chains to the last line
//   of the rotated file. `prev` is appended when a batch is written, so a failed write is rolled back
//   (file truncated to its previous size, chain head unchanged) and later records chain correctly.
// - Batching (group commit): appends made in one event-loop turn form a batch written with ONE write;
//   while it is in flight, new appends form the next batch. All promises of a batch resolve after
//   the write returns (and fdatasync, with `fsync: true`), so an acknowledged record survives kill -9.
// - Rotation (files only), before a batch, never splitting one: by size when the batch would take the
//   file over `rotateBytes`, and when the UTC day changes. Naming and ordering: see files.ts.
// - On open, the chain resumes from the last complete line (of the file, else of the newest rotated
//   file); a torn last line (a crash mid-write, never acknowledged) is truncated away.
// - Signed checkpoints (checkpointer.ts), when a key is configured: a checkpoint line goes into the
//   chain with the batch that reaches `everyRecords`, alone when a timer asks, before a rotation (the
//   rotated file's last line) and at close. Every written line, checkpoints too, then goes to the
//   exporters (they queue, never block; export/queue.ts).
// One writer per log: several processes appending to one file would interleave their chains.
import { GENESIS_HASH, type AuditRecord } from './record.js';
import { sha256Hex } from '../sha256.js';
import { FileSink, StreamSink, type Sink } from './sinks.js';
import { Checkpointer, type CheckpointOptions } from './checkpointer.js';
import type { CheckpointReason } from './checkpoint.js';
import type { AuditExporter } from './export/queue.js';
import { RecordSerializer, type RecordRedactor } from './serialize.js';
import { byteLength, chain, chainInto, newBatch, type Batch } from './batch.js';

/** The lines a batch hands to exporters when there are none. */
const NO_LINES: string[] = [];

export type AuditDestination = { path: string } | 'stdout' | { stream: NodeJS.WritableStream };

export interface AuditWriterOptions {
  destination: AuditDestination;
  /** Rotate before a batch that would take the file over this many bytes (files only). */
  rotateBytes?: number;
  /** Rotate when the UTC day changes (files only). */
  rotateDaily?: boolean;
  /** fdatasync after each batch before acknowledging (survives power loss, not just kill -9). */
  fsync?: boolean;
  /**
   * Applied to `tollgate.request.arguments` (e.g. createRedactor(…)); its `text`, when present, to
   * `mcp.resource.uri` (a URI can carry `?token=…` or `user:password@`).
   */
  redact?: RecordRedactor;
  now?: () => number;
  /** Non-fatal problems: unserializable records, repaired torn tails, failed writes, failed renames. */
  onError?: (err: Error) => void;
  /** Signed checkpoints into the chain; none without. */
  checkpoints?: CheckpointOptions;
  /** The instance id checkpoints carry (records carry their own). */
  instanceId?: string;
  /** Get every batch of lines once written (checkpoints included); they only queue. Closed with the writer. */
  exporters?: readonly AuditExporter[];
}

export interface AuditWriterStats {
  records: number;
  writes: number;
  bytes: number;
  rotations: number;
  failedBatches: number;
  checkpoints: number;
}

export async function openAuditWriter(opts: AuditWriterOptions): Promise<AuditWriter> {
  const now = opts.now ?? Date.now;
  const onError = opts.onError ?? (() => {});
  const d = opts.destination;
  if (d === 'stdout' || 'stream' in d)
    return new AuditWriter(new StreamSink(d === 'stdout' ? process.stdout : d.stream), GENESIS_HASH, opts, undefined);
  const { sink, head } = await FileSink.open(d.path, opts, now, onError);
  return new AuditWriter(sink, head, opts, d.path);
}

export class AuditWriter {
  private readonly counts = { records: 0, writes: 0, bytes: 0, failedBatches: 0, checkpoints: 0 };
  private readonly cp: Checkpointer | undefined;
  private readonly serializer: RecordSerializer;
  private head: string;
  private pending: Batch | undefined;
  private inflight: Batch | undefined;
  private draining = false;
  private scheduled = false;
  private closed = false;
  private readonly now: () => number;
  private readonly onError: (err: Error) => void;

  /** Use openAuditWriter. */
  constructor(
    private readonly sink: Sink,
    head: string,
    private readonly opts: AuditWriterOptions,
    readonly path: string | undefined,
  ) {
    this.head = head;
    this.now = opts.now ?? Date.now;
    this.onError = opts.onError ?? (() => {});
    this.serializer = new RecordSerializer(opts.redact, this.now, this.onError);
    const c = opts.checkpoints;
    this.cp =
      c &&
      new Checkpointer(
        c,
        opts.instanceId ?? 'tollgate',
        this.now,
        (reason) => this.requestCheckpoint(reason),
        sink.lastLines?.(),
        head === GENESIS_HASH,
        this.onError,
      );
  }

  get stats(): AuditWriterStats {
    return { ...this.counts, rotations: this.sink.rotations };
  }

  /** Hash of the last line written: the `prev` the next record will carry. */
  get chainHead(): string {
    return this.head;
  }

  /** Resolves once the record's line is written to the OS. Rejects only if that write fails. */
  append(record: AuditRecord): Promise<void> {
    if (this.closed) return Promise.reject(new Error('audit writer is closed'));
    const body = this.serializer.serialize(record);
    let batch = this.pending;
    if (!batch) {
      batch = this.pending = newBatch();
      this.kick();
    }
    batch.bodies.push(body);
    return batch.promise;
  }

  private kick(): void {
    if (this.draining || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.writeNow()) void this.drain();
    });
  }

  /**
   * The common batch — no checkpoints, nothing else in flight, a sink that can write it at once —
   * written here without drain's promise chain (five promises a batch; at one call at a time, five
   * a call). false: the batch takes drain.
   */
  private writeNow(): boolean {
    const batch = this.pending;
    if (!batch || this.cp || this.draining || !this.sink.writeNow) return false;
    // Exporters take the lines as text; without any, the lines go from the bodies into the bytes.
    const linked = this.exporters.length === 0 ? chainInto(batch.bodies, this.head) : undefined;
    const { lines, hash } = linked ? { lines: NO_LINES, hash: linked.hash } : chain(batch.bodies, this.head);
    const buf = linked ? linked.bytes : Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    try {
      if (!this.sink.writeNow(buf, this.now())) return false;
    } catch (err) {
      this.pending = undefined;
      this.failed(batch, err);
      return true;
    }
    this.pending = undefined;
    this.committed(batch, lines, hash, buf.length, undefined);
    return true;
  }

  private requestCheckpoint(reason: CheckpointReason): void {
    if (!this.cp || this.closed) return;
    this.cp.due = reason;
    this.kick();
  }

  /** Resolves when everything appended so far is written (or has failed). */
  async flush(): Promise<void> {
    const last = this.pending ?? this.inflight;
    if (last) await last.promise.catch(() => {});
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flush();
    if (this.cp) {
      // A shutdown checkpoint: the log ends signed (its absence means a crash, or a cut).
      while (this.draining || this.scheduled) await new Promise((r) => setImmediate(r));
      this.cp.due = 'shutdown';
      await this.drain();
      this.cp.stop();
    }
    await this.sink.close();
    await Promise.all(this.exporters.map((e) => e.close()));
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      if (this.cp) await this.cp.ready;
      while (this.pending || this.cp?.due) {
        const batch = (this.inflight = this.pending);
        this.pending = undefined;
        await this.writeBatch(batch?.bodies ?? [], batch);
      }
    } finally {
      this.inflight = undefined;
      this.draining = false;
    }
  }

  private async writeBatch(bodies: string[], batch: Batch | undefined): Promise<void> {
    const cp = this.cp;
    let { lines, hash } = chain(bodies, this.head);
    if (cp && bodies.length > 0 && this.sink.seal && this.sink.rotationDue?.(byteLength(lines), this.now())) {
      await this.seal(cp);
      ({ lines, hash } = chain(bodies, this.head));
    }
    const due = cp?.due;
    if (cp) cp.due = undefined;
    const reason = cp?.reasonFor(bodies.length, due);
    const signed = reason && cp ? cp.line(hash, cp.count + bodies.length, reason) : undefined;
    if (signed) {
      lines.push(signed.line);
      hash = sha256Hex(signed.line);
    }
    if (lines.length === 0) return;
    const buf = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    try {
      await this.sink.write(buf, this.now());
    } catch (err) {
      if (reason) cp?.retryLater(reason);
      return this.failed(batch, err);
    }
    if (signed) this.counts.checkpoints++;
    cp?.committed(lines.length, signed);
    this.committed(batch, lines, hash, buf.length, bodies.length);
  }

  /** A batch is written: the chain moves on, its appenders hear so, the exporters get its lines. */
  private committed(
    batch: Batch | undefined,
    lines: string[],
    hash: string,
    bytes: number,
    records = batch?.bodies.length ?? 0,
  ): void {
    this.head = hash;
    this.counts.records += records;
    this.counts.writes++;
    this.counts.bytes += bytes;
    batch?.resolve();
    this.written(lines);
  }

  /** A batch failed (the sink rolled it back): its appenders hear why; the chain stays. */
  private failed(batch: Batch | undefined, err: unknown): void {
    this.counts.failedBatches++;
    const e = err instanceof Error ? err : new Error(String(err));
    this.onError(e);
    batch?.reject(e);
  }

  /** Before a rotation: a checkpoint as the last line of the file being rotated. */
  private async seal(cp: Checkpointer): Promise<void> {
    const signed = cp.line(this.head, cp.count, 'rotation');
    const buf = Buffer.from(`${signed.line}\n`, 'utf8');
    try {
      await this.sink.seal!(buf, this.now());
    } catch (err) {
      this.onError(new Error(`audit rotation checkpoint not written: ${(err as Error).message}`));
      return;
    }
    this.head = sha256Hex(signed.line);
    this.counts.writes++;
    this.counts.bytes += buf.length;
    this.counts.checkpoints++;
    cp.committed(1, signed);
    this.written([signed.line]);
  }

  private written(lines: string[]): void {
    for (const e of this.exporters) {
      try {
        e.offer(lines);
      } catch (err) {
        this.onError(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  get exporters(): readonly AuditExporter[] {
    return this.opts.exporters ?? [];
  }
}

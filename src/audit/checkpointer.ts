// The writer's side of signed checkpoints (format: checkpoint.ts): where the chain stands (lines since
// genesis, last checkpoint, lines not yet signed) and when the next checkpoint is due — after
// `everyRecords` unsigned lines (in the same write as the line that reaches the count), `everyMs`
// after the first unsigned line, `heartbeatMs` after the last checkpoint even when idle (so a log
// whose newest checkpoint is older than that was cut off, or its writer stopped without a shutdown
// checkpoint), at rotation (the last line of the rotated file) and at shutdown.
//
// Signing is one Ed25519 signature (~50 µs) per checkpoint, never per record, and happens in the
// writer's drain, off the request path. Resuming a chain reads back from its end to the last checkpoint.
import { randomBytes } from 'node:crypto';
import { newRecordId } from './record.js';
import {
  checkpointOfLine,
  signCheckpoint,
  type Checkpoint,
  type CheckpointLine,
  type CheckpointReason,
  type SigningKey,
} from './checkpoint.js';

export interface CheckpointSchedule {
  everyRecords: number;
  everyMs: number;
  heartbeatMs: number;
}

export interface CheckpointOptions extends CheckpointSchedule {
  key: SigningKey;
  /** Called with each checkpoint line once written (the anchor: somewhere the writer cannot rewrite). */
  onCheckpoint?: (line: string, checkpoint: CheckpointLine) => void;
}

export const DEFAULT_CHECKPOINT_SCHEDULE: CheckpointSchedule = {
  everyRecords: 1000,
  everyMs: 60_000,
  heartbeatMs: 3_600_000,
};

export class Checkpointer {
  /** Lines in the chain (records and checkpoints). */
  count = 0;
  seq = 0;
  chain = '';
  /** Lines written since the last checkpoint. */
  unsigned = 0;
  /** A timer asked for a checkpoint (written with the next batch, or alone). */
  due: CheckpointReason | undefined;
  /** Resolves once the chain's position is known (read back from the sink). */
  readonly ready: Promise<void>;
  private interval: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly opts: CheckpointOptions,
    private readonly instanceId: string,
    private readonly now: () => number,
    private readonly request: (reason: CheckpointReason) => void,
    lastLines: AsyncIterable<Buffer> | undefined,
    genesis: boolean,
    onError: (err: Error) => void,
  ) {
    this.ready = this.resume(lastLines, genesis).catch((err: unknown) => {
      onError(new Error(`audit checkpoints: cannot find the chain position: ${(err as Error).message}`));
    });
  }

  private async resume(lastLines: AsyncIterable<Buffer> | undefined, genesis: boolean): Promise<void> {
    let after = 0;
    let found: CheckpointLine | undefined;
    if (!genesis && lastLines) {
      for await (const line of lastLines) {
        found = checkpointOfLine(line);
        if (found) break;
        after++;
      }
    }
    if (found) {
      this.count = found['tollgate.checkpoint.records'] + 1 + after;
      this.seq = found['tollgate.checkpoint.seq'];
      this.chain = found['tollgate.checkpoint.chain'];
    } else {
      this.count = after;
      this.chain = randomBytes(8).toString('hex');
    }
    this.unsigned = after;
    if (after > 0) this.armInterval();
    this.armHeartbeat();
  }

  /** Why a checkpoint goes after `n` new lines in this write (`due`: what a timer asked), if one does. */
  reasonFor(n: number, due: CheckpointReason | undefined): CheckpointReason | undefined {
    if (due === 'shutdown') return due;
    if (this.unsigned + n >= this.opts.everyRecords && this.unsigned + n > 0) return 'records';
    if (due === 'interval' && this.unsigned + n === 0) return undefined;
    return due;
  }

  /** The checkpoint line (with `prev`) over `head`, the hash of line number `records` of the chain. */
  line(head: string, records: number, reason: CheckpointReason): { line: string; checkpoint: CheckpointLine } {
    const now = this.now();
    const o = this.opts;
    const c: Checkpoint = signCheckpoint(
      {
        timestamp: new Date(now).toISOString(),
        'tollgate.record.id': newRecordId(now),
        'service.instance.id': this.instanceId,
        'tollgate.record.kind': 'checkpoint',
        'tollgate.checkpoint.chain': this.chain,
        'tollgate.checkpoint.seq': this.seq + 1,
        'tollgate.checkpoint.records': records,
        'tollgate.checkpoint.head': head,
        'tollgate.checkpoint.reason': reason,
        'tollgate.checkpoint.every_records': o.everyRecords,
        'tollgate.checkpoint.every_ms': o.everyMs,
        'tollgate.checkpoint.heartbeat_ms': o.heartbeatMs,
        'tollgate.checkpoint.key_id': o.key.keyId,
      },
      o.key,
    );
    const checkpoint: CheckpointLine = { ...c, prev: head };
    return { line: JSON.stringify(checkpoint), checkpoint };
  }

  /** After a successful write of `n` lines, the last of which is `written` when it is a checkpoint. */
  committed(n: number, written: { line: string; checkpoint: CheckpointLine } | undefined): void {
    this.count += n;
    if (written) {
      this.seq = written.checkpoint['tollgate.checkpoint.seq'];
      this.unsigned = 0;
      clearTimeout(this.interval);
      this.interval = undefined;
      this.armHeartbeat();
      try {
        this.opts.onCheckpoint?.(written.line, written.checkpoint);
      } catch {
        // an anchor's failure is its own (it has its own error reporting)
      }
    } else {
      this.unsigned += n;
      if (n > 0) this.armInterval();
    }
  }

  /** A write with a timer's checkpoint failed: ask again later. */
  retryLater(reason: CheckpointReason): void {
    if (reason === 'interval') this.armInterval();
    if (reason === 'heartbeat') this.armHeartbeat();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.interval);
    clearTimeout(this.heartbeat);
  }

  private armInterval(): void {
    if (this.interval || this.stopped) return;
    this.interval = setTimeout(() => {
      this.interval = undefined;
      this.request('interval');
    }, this.opts.everyMs);
    this.interval.unref();
  }

  private armHeartbeat(): void {
    clearTimeout(this.heartbeat);
    if (this.stopped) return;
    this.heartbeat = setTimeout(() => this.request('heartbeat'), this.opts.heartbeatMs);
    this.heartbeat.unref();
  }
}

// Comparing the chains read with checkpoints kept elsewhere (an anchor: a log pipeline, a SIEM), which alone shows a log cut off right on a checkpoint or deleted whole; separate so verify-chain.ts keeps to walking one chain.
import type { KeyObject } from 'node:crypto';
import { signatureValid, type CheckpointLine } from './checkpoint.js';
import type { ChainReport } from './chain-report.js';

export interface AnchorFinding {
  ok: boolean;
  message: string;
}

/** The chains read are every chain there is (a fleet's table), not a selection (a folder of logs). */
export interface AllChains {
  /** The time of the oldest line kept (ms), undefined when none: retention removes lines older first. */
  oldestMs: number | undefined;
  /** What holds them, for messages: "the table". */
  name: string;
}

/**
 * Compares checkpoints kept elsewhere (the anchor: a log pipeline, a SIEM) with the chains read. A
 * checkpoint the anchor holds must be in its chain with the same head and line count: missing at the
 * end is a cut-off log, different is a rewritten one. Checkpoints older than a chain's first one
 * (files removed by retention) are only noted. A chain not read here is only noted too — unless
 * `all` says every chain was read: then a chain whose anchored checkpoints are younger than the oldest
 * line kept (retention removes the oldest first, across chains) was deleted whole.
 */
export function checkAnchors(
  reports: readonly ChainReport[],
  anchors: readonly CheckpointLine[],
  keys?: ReadonlyMap<string, KeyObject>,
  all?: AllChains,
): AnchorFinding[] {
  const out: AnchorFinding[] = [];
  const byChain = new Map<string, ChainReport>();
  for (const r of reports) if (r.chain) byChain.set(r.chain, r);
  const unknown = new Map<string, { seq: number; at: string }>();
  for (const a of anchors) {
    const chain = a['tollgate.checkpoint.chain'];
    const seq = a['tollgate.checkpoint.seq'];
    const key = keys?.get(a['tollgate.checkpoint.key_id']);
    if (keys && (!key || !signatureValid(a, key))) {
      out.push({ ok: true, message: `anchor: checkpoint #${seq} of chain ${chain} has no valid signature; ignored` });
      continue;
    }
    const r = byChain.get(chain);
    if (!r) {
      const u = unknown.get(chain);
      if (!u || seq > u.seq) unknown.set(chain, { seq, at: a.timestamp });
      continue;
    }
    const mine = r.signed.find((s) => s.seq === seq);
    const first = r.signed[0]?.seq ?? 0;
    const lastSeq = r.signed.at(-1)?.seq ?? 0;
    if (!mine) {
      if (seq < first) continue;
      if (!r.ok) continue; // the chain is already reported broken before it
      out.push({
        ok: false,
        message: `chain ${chain}: the anchor holds checkpoint #${seq} (${a['tollgate.checkpoint.records']} lines, head ${a['tollgate.checkpoint.head'].slice(0, 12)}…), the log ends at #${lastSeq}: the log was cut off`,
      });
    } else if (mine.head !== a['tollgate.checkpoint.head'] || mine.records !== a['tollgate.checkpoint.records'])
      out.push({
        ok: false,
        message: `chain ${chain}: checkpoint #${seq} in the log differs from the anchor's: the log was rewritten`,
      });
  }
  for (const [chain, { seq, at }] of unknown) {
    if (!all) {
      out.push({ ok: true, message: `anchor: chain ${chain} (up to checkpoint #${seq}) is not in the log read here` });
      continue;
    }
    const t = Date.parse(at);
    const agedOut = all.oldestMs !== undefined && Number.isFinite(t) && t < all.oldestMs;
    out.push(
      agedOut
        ? {
            ok: true,
            message: `anchor: chain ${chain} (up to checkpoint #${seq}, ${at}) is not in ${all.name}: older than every line it keeps (retention)`,
          }
        : {
            ok: false,
            message: `chain ${chain} (up to checkpoint #${seq}, ${at}) is not in ${all.name}: its rows were deleted (retention removes the oldest first, and ${all.name} keeps older ones)`,
          },
    );
  }
  return out;
}

// What an audit query is and which records it selects (agent, tool glob, server, instance, decision, time span), with the record fields listings show; separate from query.ts, which reads log files, since the PostgreSQL store and the admin page use it too.
import type { AuditLine } from './record.js';
import { globMatcher } from './glob-matcher.js';

export interface AuditQuery {
  agent?: string;
  /** Glob (`*`, `?`) over the tool, prompt or resource name, namespaced or upstream-native. */
  tool?: string;
  server?: string;
  /** The gateway instance that wrote the record (`service.instance.id`). */
  instance?: string;
  /** One decision or several. */
  decision?: string | readonly string[];
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
  /** Only the LAST n matching records (the most recent), like `tail -n`. */
  limit?: number;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `30m`, `1h`, `2d` (that long before `now`) or an ISO date → epoch ms. */
export function parseTimeSpec(spec: string, now: number): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(spec.trim());
  if (m) return now - Number(m[1]) * UNITS[m[2]!]!;
  const t = /^\d{4}-\d{2}-\d{2}/.test(spec) ? Date.parse(spec) : NaN;
  if (!Number.isFinite(t)) throw new Error(`invalid time "${spec}": use 30m, 1h, 2d or an ISO 8601 date`);
  return t;
}

export const fieldString = (r: AuditLine, k: keyof AuditLine): string | undefined => {
  const v = (r as unknown as Record<string, unknown>)[k];
  return typeof v === 'string' ? v : undefined;
};

/** The name a record is about: tool, prompt, resource URI, else the method or LLM model. */
export function targetOf(r: AuditLine): string {
  return (
    fieldString(r, 'gen_ai.tool.name') ??
    fieldString(r, 'gen_ai.prompt.name') ??
    fieldString(r, 'mcp.resource.uri') ??
    fieldString(r, 'gen_ai.request.model') ??
    fieldString(r, 'mcp.method.name') ??
    '-'
  );
}

/** Decisions by name or glob (`approval_*`). */
function decisionMatcher(d: string | readonly string[]): (decision: string) => boolean {
  const globs = (typeof d === 'string' ? [d] : d).map((x) => globMatcher(x));
  return (decision) => globs.some((g) => g.test(decision));
}

export function matcher(q: AuditQuery): (r: AuditLine) => boolean {
  const tool = q.tool === undefined ? undefined : globMatcher(q.tool);
  const decisions = q.decision === undefined ? undefined : decisionMatcher(q.decision);
  return (r) => {
    // Signed checkpoints (checkpoint.ts) are lines of the chain, not records of calls.
    if ((r as { 'tollgate.record.kind'?: unknown })['tollgate.record.kind'] === 'checkpoint') return false;
    if (q.agent !== undefined && fieldString(r, 'gen_ai.agent.id') !== q.agent) return false;
    if (q.server !== undefined && fieldString(r, 'tollgate.upstream.name') !== q.server) return false;
    if (q.instance !== undefined && fieldString(r, 'service.instance.id') !== q.instance) return false;
    if (decisions && !decisions(fieldString(r, 'tollgate.decision') ?? '')) return false;
    if (tool) {
      const names = [
        fieldString(r, 'gen_ai.tool.name'),
        fieldString(r, 'gen_ai.prompt.name'),
        fieldString(r, 'mcp.resource.uri'),
        fieldString(r, 'tollgate.target.native'),
      ];
      if (!names.some((n) => n !== undefined && tool.test(n))) return false;
    }
    if (q.since !== undefined || q.until !== undefined) {
      const t = Date.parse(fieldString(r, 'timestamp') ?? '');
      if (!Number.isFinite(t)) return false;
      if (q.since !== undefined && t < q.since) return false;
      if (q.until !== undefined && t >= q.until) return false;
    }
    return true;
  };
}

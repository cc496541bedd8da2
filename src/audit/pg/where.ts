// The review filters (agent, tool glob, server, decision, instance, since/until) as a SQL WHERE clause
// with parameters: the same meaning as matcher() in ../query.ts has over JSONL lines.
import type { AuditQuery } from '../query.js';

export interface Where {
  sql: string;
  params: unknown[];
}

/** `*` and `?` → LIKE's `%` and `_`; LIKE's own wildcards and the escape are escaped. */
export function globToLike(glob: string): string {
  return glob
    .replace(/[\\%_]/g, '\\$&')
    .replace(/\*/g, '%')
    .replace(/\?/g, '_');
}

export function whereOf(q: AuditQuery, params: unknown[] = []): Where {
  const parts = ['is_record'];
  const p = (v: unknown): string => {
    params.push(v);
    return `$${params.length}`;
  };
  if (q.agent !== undefined) parts.push(`agent = ${p(q.agent)}`);
  if (q.server !== undefined) parts.push(`server = ${p(q.server)}`);
  if (q.instance !== undefined) parts.push(`instance = ${p(q.instance)}`);
  if (q.decision !== undefined) {
    const list = typeof q.decision === 'string' ? [q.decision] : [...q.decision];
    // Names or globs (`approval_*`), as the JSONL filter takes them.
    parts.push(`decision LIKE ANY(${p(list.map(globToLike))}::text[])`);
  }
  if (q.tool !== undefined) {
    if (/[*?]/.test(q.tool)) {
      const like = p(globToLike(q.tool));
      parts.push(`(tool LIKE ${like} OR native LIKE ${like})`);
    } else {
      const eq = p(q.tool);
      parts.push(`(tool = ${eq} OR native = ${eq})`);
    }
  }
  if (q.since !== undefined) parts.push(`ts >= ${p(new Date(q.since).toISOString())}::timestamptz`);
  if (q.until !== undefined) parts.push(`ts < ${p(new Date(q.until).toISOString())}::timestamptz`);
  return { sql: parts.join(' AND '), params };
}

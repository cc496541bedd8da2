// An audit line as a record, for the readers that show records (listings, the admin page, the live
// tail from PostgreSQL). The writer never nests deeper than AUDIT_LINE_DEPTH (agent messages are
// refused beyond 128 levels before they are parsed); a line that does was written by someone else,
// and parsed it would overflow the stack where it is printed (JSON.stringify in `--json` and the
// page's record details), so one crafted line would stop every listing that reaches it. Such a line
// is not a record: readers skip it as they skip text that is not JSON.
import { jsonShapeProblem, type JsonShapeLimits } from '../mcp/json-shape.js';
import type { AuditLine } from './record.js';

const AUDIT_LINE_DEPTH = 256;
const LINE_SHAPE: JsonShapeLimits = {
  maxDepth: AUDIT_LINE_DEPTH,
  maxKeys: Number.MAX_SAFE_INTEGER,
  maxValues: Number.MAX_SAFE_INTEGER,
};

export function parseAuditLine(text: string): AuditLine | undefined {
  if (jsonShapeProblem(text, LINE_SHAPE) !== undefined) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as AuditLine) : undefined;
  } catch {
    return undefined;
  }
}

// Audit retention: rotated JSONL files older than the retention age (by their rotation time) or beyond
// the newest N are deleted, and so are PostgreSQL rows older than the age — in short batches (one
// short transaction each, never a long lock), by one instance at a time (an advisory lock).
// The active file is never deleted, nor a file the PostgreSQL shipper has not finished.
import { unlink } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Pool } from 'pg';
import { parseRotatedName, rotatedFilesOf } from './files.js';
import { quoteTable } from './pg/migrate.js';

export interface FileRetention {
  maxAgeMs?: number;
  maxFiles?: number;
  /** False for a file that must stay (not shipped yet). */
  mayDelete?: (path: string) => Promise<boolean>;
}

/** Rotation time from a rotated file's name (`…<seq>.<YYYYMMDDTHHMMSSZ>…`). */
export function rotatedAt(name: string): number | undefined {
  const m = /\.\d{6,}\.(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(name);
  if (!m) return undefined;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

/** Deletes the rotated files of `activePath` that retention lets go; returns their paths. */
export async function pruneFiles(activePath: string, r: FileRetention, now: number): Promise<string[]> {
  const files = await rotatedFilesOf(activePath); // oldest first
  const deleted: string[] = [];
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    const name = basename(f.path);
    if (!parseRotatedName(name)) continue;
    const at = rotatedAt(name);
    const tooOld = r.maxAgeMs !== undefined && at !== undefined && at < now - r.maxAgeMs;
    const tooMany = r.maxFiles !== undefined && files.length - i > r.maxFiles;
    if (!tooOld && !tooMany) continue;
    if (r.mayDelete && !(await r.mayDelete(f.path))) break; // keep order: never leave a hole before a kept file
    await unlink(f.path).catch(() => {});
    deleted.push(f.path);
  }
  return deleted;
}

export const DELETE_BATCH = 5000;

/** Deletes rows older than `before` in batches; returns how many. One instance at a time. */
export async function pruneRows(pool: Pool, table: string, before: number, batch = DELETE_BATCH): Promise<number> {
  const client = await pool.connect();
  const lock = `tollgate-audit-retention:${table}`;
  try {
    const got = (await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [lock])).rows[0]
      ?.ok;
    if (!got) return 0; // another instance is at it
    let total = 0;
    try {
      const t = quoteTable(table);
      const cut = new Date(before).toISOString();
      for (;;) {
        const r = await client.query(
          `DELETE FROM ${t} WHERE id IN (SELECT id FROM ${t} WHERE ts < $1::timestamptz ORDER BY ts LIMIT $2)`,
          [cut, batch],
        );
        total += r.rowCount ?? 0;
        if ((r.rowCount ?? 0) < batch) break;
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lock]);
    }
    return total;
  } finally {
    client.release();
  }
}

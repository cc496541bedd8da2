// The audit table, created and migrated by Tollgate. Every instance runs this at start; an advisory
// lock (per table) makes concurrent starts take turns, and each step is idempotent.
//
// One row per line of an instance's audit chain:
//   id        insertion order (identity); a chain's rows are inserted in chain order by one shipper
//   chain     whose chain the line belongs to (each instance's chain is its own)
//   record_id the record's id (ULID): idempotent inserts, ON CONFLICT DO NOTHING
//   line      the exact line text, `prev` included, so the hashes verify from the table alone
//   the rest  columns for the review filters and charts, copied from the line
import type { Pool, PoolClient } from 'pg';

export const SCHEMA_VERSION = 1;

/** `schema.table` → quoted identifiers; the name was validated by the config schema. */
export function quoteTable(table: string): string {
  return table
    .split('.')
    .map((p) => `"${p.replace(/"/g, '""')}"`)
    .join('.');
}

/** A name derived from the table, for indexes and the NOTIFY channel (≤ 63 bytes). */
export function derivedName(table: string, suffix: string): string {
  const base = table.replace(/\./g, '_');
  return `${base.slice(0, 63 - suffix.length - 1)}_${suffix}`;
}

/** Steps from version n-1 to n, each idempotent. */
function migrations(table: string): string[][] {
  const t = quoteTable(table);
  const ix = (s: string) => `"${derivedName(table.split('.').at(-1)!, s)}"`;
  return [
    [
      `CREATE TABLE IF NOT EXISTS ${t} (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        chain text NOT NULL,
        record_id text NOT NULL,
        ts timestamptz NOT NULL,
        is_record boolean NOT NULL,
        instance text,
        agent text,
        method text,
        tool text,
        native text,
        server text,
        decision text,
        outcome text,
        session text,
        latency_ms double precision,
        arguments jsonb,
        hash text NOT NULL,
        line text NOT NULL,
        shipped_at timestamptz NOT NULL DEFAULT now()
      )`,
      `CREATE UNIQUE INDEX IF NOT EXISTS ${ix('record_id')} ON ${t} (record_id)`,
      `CREATE INDEX IF NOT EXISTS ${ix('chain')} ON ${t} (chain, id)`,
      `CREATE INDEX IF NOT EXISTS ${ix('ts')} ON ${t} (ts, id)`,
      `CREATE INDEX IF NOT EXISTS ${ix('agent')} ON ${t} (agent, ts)`,
      `CREATE INDEX IF NOT EXISTS ${ix('tool')} ON ${t} (tool, ts)`,
      `CREATE INDEX IF NOT EXISTS ${ix('decision')} ON ${t} (decision, ts)`,
      `CREATE INDEX IF NOT EXISTS ${ix('session')} ON ${t} (session, ts)`,
      `CREATE INDEX IF NOT EXISTS ${ix('instance')} ON ${t} (instance, ts)`,
    ],
  ];
}

/** Creates or upgrades the table; refuses a database whose encoding cannot hold the lines exactly. */
export async function migrate(pool: Pool, table: string): Promise<void> {
  const client: PoolClient = await pool.connect();
  try {
    const enc = (await client.query<{ server_encoding: string }>('SHOW server_encoding')).rows[0]?.server_encoding;
    if (enc !== 'UTF8')
      throw new Error(
        `the audit database's encoding is ${enc}; it must be UTF8 (lines are stored byte for byte so their hashes verify)`,
      );
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tollgate-audit-migrate:${table}`]);
    const meta = quoteTable(`${table}_meta`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${meta} (version int NOT NULL)`);
    const row = (await client.query<{ version: number }>(`SELECT version FROM ${meta}`)).rows[0];
    const from = row?.version ?? 0;
    if (from > SCHEMA_VERSION)
      throw new Error(
        `${table} has schema version ${from}, newer than this Tollgate knows (${SCHEMA_VERSION}): upgrade Tollgate`,
      );
    const steps = migrations(table);
    for (let v = from; v < SCHEMA_VERSION; v++) for (const sql of steps[v]!) await client.query(sql);
    if (row === undefined) await client.query(`INSERT INTO ${meta} (version) VALUES ($1)`, [SCHEMA_VERSION]);
    else if (from < SCHEMA_VERSION) await client.query(`UPDATE ${meta} SET version = $1`, [SCHEMA_VERSION]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

// PostgreSQL for tests: the machine's shared server at 127.0.0.1:5432 (trust auth, user postgres).
// Each test file gets a database of its own (fresh name, UTF8), dropped in afterAll.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: string;
  url: string;
  /** The URL through another port (e.g. a TCP proxy in front of the server). */
  urlVia(port: number): string;
  drop(): Promise<void>;
}

/** True when PostgreSQL answers; otherwise warns so a skipped test is never silent. */
export async function postgresAvailable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    console.warn('\n!!! PostgreSQL is not reachable at 127.0.0.1:5432: PostgreSQL tests are SKIPPED !!!\n');
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

export async function createTestDatabase(prefix = 'tollgate_test'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}" ENCODING 'UTF8' TEMPLATE template0`);
  } finally {
    await admin.end();
  }
  const urlVia = (port: number) => `postgres://postgres@127.0.0.1:${port}/${name}`;
  return {
    name,
    url: urlVia(5432),
    urlVia,
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * A pool for a test's own queries. pool.end() resolves once its clients are removed, not once their
 * connections have closed, so the FORCE drop after it can end one still closing: the server's FATAL
 * then reaches the pool as an 'error' event, which must have a listener (unheard, it is an uncaught
 * exception that fails the run after every test passed).
 */
export function testPool(url: string, max = 4): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on('error', () => {});
  return pool;
}

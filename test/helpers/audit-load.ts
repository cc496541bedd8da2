// Load for the fleet audit tests: agents calling feat__echo with a unique text each, remembering which
// calls were acknowledged (answered without error), and reading back what the audit table holds.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connect } from './client.js';

export interface Load {
  /** Texts of the calls answered OK (their records must be in the table, once). */
  acked: Set<string>;
  /** Answers that were errors, by message. */
  refused: string[];
  stop(): Promise<void>;
}

/** `clients` agents in tight loops against `url` until stop() (or the gateway dies). */
export async function startLoad(url: string, key: string, prefix: string, clients = 3): Promise<Load> {
  const acked = new Set<string>();
  const refused: string[] = [];
  let stopped = false;
  const agents = await Promise.all(Array.from({ length: clients }, () => connect(url, { key })));
  const loops = agents.map(async (c, i) => {
    for (let n = 0; !stopped; n++) {
      const text = `${prefix}-${i}-${n}-${randomBytes(3).toString('hex')}`;
      try {
        const r = await c.callTool({ name: 'feat__echo', arguments: { text } });
        if (r.isError) refused.push(JSON.stringify(r.content));
        else acked.add(text);
      } catch (err) {
        refused.push((err as Error).message);
        if (/fetch failed|ECONNREFUSED|ECONNRESET|socket/i.test((err as Error).message)) return; // the gateway is gone
      }
    }
  });
  return {
    acked,
    refused,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      await Promise.all(agents.map((c) => c.close().catch(() => {})));
    },
  };
}

/** How many rows the table has per echo text of `prefix`. */
export async function echoRows(url: string, table: string, prefix: string): Promise<Map<string, number>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ t: string; n: number }>(
      `SELECT arguments->>'text' AS t, count(*)::int AS n FROM ${table} WHERE tool = 'feat__echo' AND arguments->>'text' LIKE $1 GROUP BY 1`,
      [`${prefix}-%`],
    );
    return new Map(r.rows.map((x) => [x.t, x.n]));
  } finally {
    await c.end();
  }
}

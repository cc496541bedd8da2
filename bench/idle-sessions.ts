// Memory per idle agent session: the gateway's RSS before and after opening N sessions (initialize
// only, as an SDK client declares itself) that then sit idle. A figure of the bench (issue 14:
// 10 000 idle sessions cost +47 MiB over a 108 MiB base; what a client declares is capped so this
// holds whatever clients send).
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';

export interface IdleSessionsResult {
  sessions: number;
  refused: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  /** Largest Mcp-Session-Id seen (characters). */
  maxIdChars: number;
}

export function rssMiB(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

export async function measureIdleSessions(
  origin: string,
  apiKey: string,
  pid: number,
  n: number,
  protocolVersion: string,
): Promise<IdleSessionsResult> {
  const pool = new Pool(origin, { connections: 8, pipelining: 1 });
  const rssBeforeMiB = rssMiB(pid);
  let next = 0;
  let sessions = 0;
  let refused = 0;
  let maxIdChars = 0;
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: {
      protocolVersion,
      capabilities: { roots: { listChanged: true }, sampling: {}, elicitation: { form: {} } },
      clientInfo: { name: 'bench-idle-agent', version: '1.0.0' },
    },
  });
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      const res = await pool.request({
        method: 'POST',
        path: '/mcp',
        headers: {
          authorization: `Bearer ${apiKey}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body,
      });
      await res.body.text();
      const id = res.headers['mcp-session-id'];
      if (res.statusCode === 200 && typeof id === 'string') {
        sessions++;
        maxIdChars = Math.max(maxIdChars, id.length);
      } else refused++;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  await pool.close();
  // Let the gateway settle (timers, GC of request garbage) before reading its RSS.
  await new Promise((r) => setTimeout(r, 2000));
  return { sessions, refused, rssBeforeMiB, rssAfterMiB: rssMiB(pid), maxIdChars };
}

// A bounded load of SDK clients calling one tool in a loop, and the checks the reliability goals
// ask of it: every call settles, and every call answered with success is in the audit log.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export interface CallOutcome {
  /** Unique per call: sent as the tool's `text` argument, so the audit record names it. */
  key: string;
  session: string | undefined;
  ok: boolean;
  code?: number | undefined;
  message?: string | undefined;
}

/** Far beyond every gateway deadline in these tests: a call still open then is hanging. */
export const CLIENT_TIMEOUT_MS = 120_000;

export interface LoadOptions {
  tool: string;
  callsPerClient: number;
  /** Called after every settled call, with all outcomes so far (to inject a fault mid-load). */
  onOutcome?: (o: CallOutcome, all: readonly CallOutcome[]) => void;
}

const run = randomBytes(3).toString('hex');

/** Every client calls `tool` `callsPerClient` times in a row; the clients run concurrently. */
export async function drive(clients: readonly Client[], opts: LoadOptions): Promise<CallOutcome[]> {
  const all: CallOutcome[] = [];
  await Promise.all(
    clients.map(async (client, c) => {
      const session = (client.transport as StreamableHTTPClientTransport | undefined)?.sessionId;
      for (let i = 0; i < opts.callsPerClient; i++) {
        const key = `${run}-${c}-${i}`;
        let o: CallOutcome;
        try {
          const r = await client.callTool({ name: opts.tool, arguments: { text: key } }, undefined, {
            timeout: CLIENT_TIMEOUT_MS,
          });
          o = { key, session, ok: r.isError !== true };
        } catch (err) {
          const e = err as { code?: number; message?: string };
          o = { key, session, ok: false, code: e.code, message: e.message };
        }
        all.push(o);
        opts.onOutcome?.(o, all);
      }
    }),
  );
  return all;
}

export const successes = (outcomes: readonly CallOutcome[]): CallOutcome[] => outcomes.filter((o) => o.ok);

/** Calls the client gave up on itself: the gateway never settled them. */
export const hanging = (outcomes: readonly CallOutcome[]): CallOutcome[] =>
  outcomes.filter((o) => /Request timed out/i.test(o.message ?? ''));

/** `session|key` of every tools/call the audit log records as answered with success. */
export function auditedSuccesses(file: string): Set<string> {
  const seen = new Set<string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue; // a torn last line after kill -9
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (r['mcp.method.name'] !== 'tools/call' || r['tollgate.outcome'] !== 'ok') continue;
    const args = r['tollgate.request.arguments'] as { text?: unknown } | null;
    seen.add(`${String(r['mcp.session.id'])}|${String(args?.text)}`);
  }
  return seen;
}

/** Successes missing from the audit log (must be none). */
export function missingFromAudit(outcomes: readonly CallOutcome[], auditFile: string): string[] {
  const audited = auditedSuccesses(auditFile);
  // Records name the session by its short reference: the first 16 hex of SHA-256 of its id.
  const ref = (session: unknown) => createHash('sha256').update(String(session)).digest('hex').slice(0, 16);
  return successes(outcomes)
    .map((o) => `${ref(o.session)}|${o.key}`)
    .filter((k) => !audited.has(k));
}

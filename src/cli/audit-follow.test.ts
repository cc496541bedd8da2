// `tollgate audit --follow` (-f): the last records, then each new one as it is written, until the
// signal aborts; separate as the one mode of the command that keeps running.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAuditRecord } from '../audit/record.js';
import { openAuditWriter } from '../audit/writer.js';
import { auditCommand } from './audit.js';
import { fixture, io } from '../../test/helpers/audit-cli.js';

describe('tollgate audit', () => {
  it('--follow prints new records until the signal aborts', async () => {
    const dir = await fixture();
    const ac = new AbortController();
    const t = io({ signal: ac.signal });
    const done = auditCommand([dir, '--follow', '--json', '--limit', '1'], t.io);
    const until = async (text: string) => {
      const deadline = Date.now() + 5000;
      while (!t.out().includes(text) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    };
    await until('"carol"'); // history printed: now following
    const w = await openAuditWriter({ destination: { path: join(dir, 'tollgate-audit.jsonl') } });
    await w.append(
      createAuditRecord({
        'service.instance.id': 'gw',
        'gen_ai.agent.id': 'dave',
        'tollgate.auth.method': 'jwt',
        'tollgate.decision': 'allowed',
        'tollgate.outcome': 'ok',
        'tollgate.latency.total_ms': 1,
      }),
    );
    await w.close();
    await until('"dave"');
    ac.abort();
    expect(await done).toBe(0);
    const got = t
      .out()
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as Record<string, unknown>)['gen_ai.agent.id']);
    expect(got).toEqual(['carol', 'dave']);
  });

  it('--follow without --json prints table rows with fixed widths', async () => {
    const dir = await fixture();
    const ac = new AbortController();
    const t = io({ signal: ac.signal });
    const done = auditCommand([dir, '-f', '--limit', '2'], t.io);
    const deadline = Date.now() + 5000;
    while (!t.out().includes('carol') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    expect(await done).toBe(0);
    const lines = t.out().trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^TIME \(UTC\)\s+AGENT/);
    expect(lines[2]).toMatch(
      /^2025-03-10 11:59:00\.000\s+carol\s+tools\/call\s+github__search\s+error\s+jsonrpc_error -32050\s+3\.0ms$/,
    );
    expect(lines[2]!.indexOf('error')).toBe(lines[0]!.indexOf('DECISION'));
  });
});

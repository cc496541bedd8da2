import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, run } from '../../test/helpers/audit-cli.js';

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

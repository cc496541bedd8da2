import { appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAuditRecord, type AuditDecision, type AuditLine } from './record.js';
import { openAuditWriter } from './writer.js';
import { followAudit, globMatcher, parseTimeSpec, readAudit } from './query.js';
import { tempDir } from '../../test/helpers/tmp.js';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const tmp = () => tempDir('audit-q-');

interface Row {
  agent: string;
  tool: string | null;
  server: string;
  decision: AuditDecision;
  ms: number;
  tokens: number;
  at: number;
  uri?: string;
}
const ROWS: Row[] = [
  { agent: 'alice', tool: 'github__search', server: 'github', decision: 'allowed', ms: 10, tokens: 100, at: T0 },
  {
    agent: 'alice',
    tool: 'github__create_issue',
    server: 'github',
    decision: 'denied',
    ms: 1,
    tokens: 0,
    at: T0 + 60_000,
  },
  { agent: 'bob', tool: 'fs__read', server: 'fs', decision: 'allowed', ms: 30, tokens: 50, at: T0 + 120_000 },
  { agent: 'bob', tool: 'fs__read', server: 'fs', decision: 'rate_limited', ms: 2, tokens: 0, at: T0 + 180_000 },
  {
    agent: 'alice',
    tool: null,
    uri: 'fs+file:///etc/hosts',
    server: 'fs',
    decision: 'allowed',
    ms: 20,
    tokens: 10,
    at: T0 + 240_000,
  },
  { agent: 'carol', tool: 'github__search', server: 'github', decision: 'error', ms: 5, tokens: 0, at: T0 + 300_000 },
];

const toRecord = (r: Row) =>
  createAuditRecord({
    timestamp: new Date(r.at).toISOString(),
    'service.instance.id': 'gw',
    'gen_ai.agent.id': r.agent,
    'tollgate.auth.method': 'api_key',
    'mcp.method.name': r.tool ? 'tools/call' : 'resources/read',
    'gen_ai.tool.name': r.tool,
    'mcp.resource.uri': r.uri ?? null,
    'tollgate.target.native': r.tool?.split('__')[1] ?? r.uri?.slice(3) ?? null,
    'tollgate.upstream.name': r.server,
    'tollgate.decision': r.decision,
    'tollgate.outcome': r.decision === 'allowed' ? 'ok' : 'jsonrpc_error',
    'tollgate.tokens.charged': r.tokens,
    'tollgate.latency.total_ms': r.ms,
  });

async function fixture(rotateBytes?: number): Promise<string> {
  const dir = tmp();
  const w = await openAuditWriter({
    destination: { path: join(dir, 'audit.jsonl') },
    ...(rotateBytes ? { rotateBytes } : {}),
  });
  for (const r of ROWS) await w.append(toRecord(r));
  await w.close();
  return dir;
}

const collect = async (it: AsyncIterable<AuditLine>) => {
  const out: AuditLine[] = [];
  for await (const r of it) out.push(r);
  return out;
};
const ids = (rs: AuditLine[]) => rs.map((r) => ROWS.findIndex((x) => new Date(x.at).toISOString() === r.timestamp));

describe('query', () => {
  it('parses relative and ISO times', () => {
    expect(parseTimeSpec('1h', T0)).toBe(T0 - 3_600_000);
    expect(parseTimeSpec('30m', T0)).toBe(T0 - 1_800_000);
    expect(parseTimeSpec('2d', T0)).toBe(T0 - 2 * 86_400_000);
    expect(parseTimeSpec('2025-01-01T12:00:00Z', 0)).toBe(T0);
    expect(() => parseTimeSpec('yesterday', T0)).toThrow(/invalid time/);
    expect(() => parseTimeSpec('12', T0)).toThrow(/invalid time/);
  });

  it('globs match whole names with * and ?', () => {
    expect(globMatcher('github__*').test('github__search')).toBe(true);
    expect(globMatcher('*search').test('github__search')).toBe(true);
    expect(globMatcher('fs__rea?').test('fs__read')).toBe(true);
    expect(globMatcher('fs__re').test('fs__read')).toBe(false);
    expect(globMatcher('a.b').test('axb')).toBe(false);
    // Several stars, prefix and suffix that must not overlap, `?` inside a part, the empty name.
    expect(globMatcher('*github*delete*').test('x_github__delete_repo')).toBe(true);
    expect(globMatcher('*github*delete*').test('delete_github')).toBe(false);
    expect(globMatcher('a*a').test('a')).toBe(false);
    expect(globMatcher('a*a').test('aa')).toBe(true);
    expect(globMatcher('*?e?d*').test('fs__read')).toBe(true);
    expect(globMatcher('*?e?d*').test('fs__red')).toBe(false);
    expect(globMatcher('**').test('')).toBe(true);
    expect(globMatcher('').test('')).toBe(true);
    expect(globMatcher('?').test('')).toBe(false);
  });

  it('a glob over a long agent-written name takes time in proportion to it', () => {
    // A backtracking RegExp took over a minute on these 600 000 characters (quadratic in the name),
    // the event loop held the whole time.
    const name = 'github'.repeat(100_000);
    expect(globMatcher('*github*delete*').test(name)).toBe(false);
    expect(globMatcher('*g?thub*d?lete*').test(name)).toBe(false);
  });

  it('reads across rotated files in order and filters', async () => {
    const dir = await fixture(1200);
    expect(readdirSync(dir).length).toBeGreaterThan(2);
    expect(ids(await collect(readAudit(dir)))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(ids(await collect(readAudit(dir, { agent: 'alice' })))).toEqual([0, 1, 4]);
    expect(ids(await collect(readAudit(dir, { tool: 'github__*' })))).toEqual([0, 1, 5]);
    expect(ids(await collect(readAudit(dir, { tool: 'read' })))).toEqual([2, 3]); // upstream-native name
    expect(ids(await collect(readAudit(dir, { tool: 'fs+file:*' })))).toEqual([4]);
    expect(ids(await collect(readAudit(dir, { server: 'fs' })))).toEqual([2, 3, 4]);
    expect(ids(await collect(readAudit(dir, { decision: ['denied', 'rate_limited'] })))).toEqual([1, 3]);
    expect(ids(await collect(readAudit(dir, { since: T0 + 120_000, until: T0 + 300_000 })))).toEqual([2, 3, 4]);
    expect(ids(await collect(readAudit(dir, { limit: 2 })))).toEqual([4, 5]);
    expect(ids(await collect(readAudit(dir, { agent: 'bob', limit: 5 })))).toEqual([2, 3]);
    expect(ids(await collect(readAudit(dir, { since: Date.now() + 60_000 })))).toEqual([]); // files skipped by mtime
  });

  it('skips lines that are not records, reporting them', async () => {
    const dir = await fixture();
    appendFileSync(join(dir, 'audit.jsonl'), 'garbage\n[1]\n');
    const bad: number[] = [];
    expect(await collect(readAudit(dir, {}, { onBadLine: (_f, l) => bad.push(l) }))).toHaveLength(6);
    expect(bad).toEqual([7, 8]);
  });

  it('follows new records as they are written, across rotation', async () => {
    const dir = await fixture(1200);
    const ac = new AbortController();
    const it = followAudit(dir, { agent: 'alice', limit: 1 }, { signal: ac.signal })[Symbol.asyncIterator]();
    expect(ids([(await it.next()).value as AuditLine])).toEqual([4]); // history: the last matching one

    const w = await openAuditWriter({ destination: { path: join(dir, 'audit.jsonl') }, rotateBytes: 1200 });
    const before = readdirSync(dir).length;
    const got: AuditLine[] = [];
    for (let i = 0; i < 8; i++) {
      await w.append(toRecord({ ...ROWS[0]!, agent: i % 2 ? 'bob' : 'alice', tokens: 1000 + i }));
      if (i % 2 === 0) got.push((await it.next()).value as AuditLine);
    }
    await w.close();
    expect(readdirSync(dir).length).toBeGreaterThan(before + 2); // it did rotate meanwhile
    expect(got.map((r) => r['tollgate.tokens.charged'])).toEqual([1000, 1002, 1004, 1006]);
    const pending = it.next();
    ac.abort();
    expect((await pending).done).toBe(true);
  });

  it('follow waits on an empty log for its first record', async () => {
    const dir = tmp();
    const file = join(dir, 'audit.jsonl');
    appendFileSync(file, '');
    const ac = new AbortController();
    const it = followAudit(file, {}, { signal: ac.signal })[Symbol.asyncIterator]();
    const next = it.next();
    const w = await openAuditWriter({ destination: { path: file } });
    await w.append(toRecord(ROWS[2]!));
    expect(ids([(await next).value as AuditLine])).toEqual([2]);
    await w.close();
    await it.return?.(undefined);
  });
});

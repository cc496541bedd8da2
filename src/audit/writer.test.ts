import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, createAuditRecord, type AuditLine, type AuditRecord } from './record.js';
import { createRedactor } from './redact.js';
import { AuditWriter, openAuditWriter } from './writer.js';
import { verifyAudit } from './verify.js';
import { tempDir } from '../../test/helpers/tmp.js';

const tmp = () => tempDir('audit-w-');
let n = 0;
const rec = (extra: Partial<AuditRecord> = {}): AuditRecord =>
  createAuditRecord({
    'service.instance.id': 'gw',
    'gen_ai.agent.id': 'alice',
    'tollgate.auth.method': 'api_key',
    'mcp.method.name': 'tools/call',
    'gen_ai.tool.name': `t${n++}`,
    'tollgate.decision': 'allowed',
    'tollgate.outcome': 'ok',
    'tollgate.latency.total_ms': 1,
    ...extra,
  });
const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);
const parse = (l: string) => JSON.parse(l) as AuditLine;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const tick = () => new Promise((r) => setImmediate(r));

function expectChained(all: string[], first = GENESIS_HASH): void {
  let prev = first;
  for (const l of all) {
    expect(parse(l).prev).toBe(prev);
    prev = sha(l);
  }
}

describe('AuditWriter', () => {
  it('writes appends made in one tick with ONE write, and resolves them all after it', async () => {
    const file = join(tmp(), 'a.jsonl');
    const w = await openAuditWriter({ destination: { path: file } });
    const ps = Array.from({ length: 100 }, (_, i) => w.append(rec({ 'jsonrpc.request.id': i })));
    expect(readFileSync(file, 'utf8')).toBe(''); // nothing acknowledged yet, nothing written yet
    let resolved = 0;
    for (const p of ps) void p.then(() => resolved++);
    await Promise.all(ps);
    expect(resolved).toBe(100);
    expect(w.stats).toMatchObject({ records: 100, writes: 1 });
    const all = lines(file);
    expect(all.map((l) => parse(l)['jsonrpc.request.id'])).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expectChained(all);
    expect(w.chainHead).toBe(sha(all.at(-1)!));
    await w.close();
  });

  it('acknowledges a record only once its line is in the file; appends during a write form the next batch', async () => {
    const file = join(tmp(), 'a.jsonl');
    const w = await openAuditWriter({ destination: { path: file } });
    const seen: number[] = [];
    const first = w.append(rec({ 'jsonrpc.request.id': 1 })).then(() => seen.push(lines(file).length));
    await tick(); // the first write is now in flight
    const second = [w.append(rec({ 'jsonrpc.request.id': 2 })), w.append(rec({ 'jsonrpc.request.id': 3 }))];
    await Promise.all([first, ...second]);
    expect(seen[0]).toBeGreaterThanOrEqual(1);
    expect(w.stats.writes).toBe(2);
    expectChained(lines(file));
    await w.close();
  });

  it('rotates by size without losing records, chaining across files', async () => {
    const dir = tmp();
    const file = join(dir, 'audit.jsonl');
    const w = await openAuditWriter({ destination: { path: file }, rotateBytes: 4000 });
    for (let i = 0; i < 40; i++) await w.append(rec({ 'jsonrpc.request.id': i }));
    await w.close();
    const names = readdirSync(dir).sort();
    expect(names.length).toBeGreaterThan(5);
    expect(w.stats.rotations).toBe(names.length - 1);
    expect(names.at(-1)).toBe('audit.jsonl');
    expect(names[0]).toMatch(/^audit\.000001\.\d{8}T\d{6}Z\.jsonl$/);
    for (const name of names) expect(statSync(join(dir, name)).size).toBeLessThanOrEqual(4000);
    const ordered = [...names.slice(0, -1), 'audit.jsonl'].flatMap((f) => lines(join(dir, f)));
    expect(ordered.map((l) => parse(l)['jsonrpc.request.id'])).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expectChained(ordered);
    expect(await verifyAudit(dir)).toMatchObject({ ok: true, files: names.length, records: 40 });
  });

  it('rotates when the UTC day changes', async () => {
    const dir = tmp();
    let now = Date.UTC(2025, 5, 1, 23, 59, 59);
    const w = await openAuditWriter({ destination: { path: join(dir, 'a.jsonl') }, rotateDaily: true, now: () => now });
    await w.append(rec());
    await w.append(rec());
    now += 2000;
    await w.append(rec());
    await w.close();
    expect(readdirSync(dir).sort()).toEqual(['a.000001.20250602T000001Z.jsonl', 'a.jsonl']);
    expect(lines(join(dir, 'a.jsonl'))).toHaveLength(1);
    expect((await verifyAudit(dir)).ok).toBe(true);
  });

  it('resumes the chain on reopen, from the file or else from the newest rotated file', async () => {
    const dir = tmp();
    const file = join(dir, 'a.jsonl');
    let w = await openAuditWriter({ destination: { path: file }, rotateBytes: 1 });
    await w.append(rec());
    await w.append(rec()); // rotates the first away
    await w.close();
    w = await openAuditWriter({ destination: { path: file } });
    await w.append(rec());
    await w.close();
    expect(lines(file)).toHaveLength(2);
    writeFileSync(file, ''); // empty active file: chain continues from the rotated one (whose last line is record 1)
    w = await openAuditWriter({ destination: { path: file } });
    const rotated = readdirSync(dir).find((f) => f !== 'a.jsonl')!;
    expect(w.chainHead).toBe(sha(lines(join(dir, rotated))[0]!));
    await w.close();
  });

  it('truncates a torn last line (never acknowledged) before appending', async () => {
    const file = join(tmp(), 'a.jsonl');
    let w = await openAuditWriter({ destination: { path: file } });
    await w.append(rec());
    await w.close();
    appendFileSync(file, '{"timestamp":"2025-01-01T00:00:00Z","tollgate.rec');
    const errors: string[] = [];
    w = await openAuditWriter({ destination: { path: file }, onError: (e) => errors.push(e.message) });
    await w.append(rec());
    await w.close();
    expect(errors[0]).toMatch(/removed \d+ bytes of an incomplete last line/);
    expect(lines(file)).toHaveLength(2);
    expect(await verifyAudit(file)).toMatchObject({ ok: true, files: 1, records: 2 });
  });

  it('never throws for a bad record: writes a minimal record instead, chain intact', async () => {
    const file = join(tmp(), 'a.jsonl');
    const errors: Error[] = [];
    const w = await openAuditWriter({ destination: { path: file }, onError: (e) => errors.push(e) });
    const bad = rec({ 'gen_ai.agent.id': 'mallory', 'tollgate.decision': 'denied' });
    Object.defineProperty(bad, 'gen_ai.tool.name', {
      enumerable: true,
      get: () => {
        throw new Error('getter exploded');
      },
    });
    const cyclic: Record<string, unknown> = {};
    cyclic.me = cyclic;
    await Promise.all([
      w.append(rec()),
      w.append(bad),
      w.append(rec({ 'tollgate.request.arguments': cyclic as never, 'jsonrpc.request.id': 10n as never })),
    ]);
    await w.close();
    const all = lines(file).map(parse) as unknown as Record<string, unknown>[];
    expect(all).toHaveLength(3);
    expect(all[1]).toMatchObject({
      'gen_ai.agent.id': 'mallory',
      'tollgate.decision': 'denied',
      'tollgate.audit_error': 'record not serializable: getter exploded',
    });
    expect(all[2]!['tollgate.request.arguments']).toEqual({ me: '[Circular]' });
    expect(errors).toHaveLength(1);
    expect((await verifyAudit(file)).ok).toBe(true);
  });

  it('redacts arguments when given a redactor', async () => {
    const file = join(tmp(), 'a.jsonl');
    const w = await openAuditWriter({
      destination: { path: file },
      redact: createRedactor({ keys: [], maxValueBytes: 100 }),
    });
    const args = { password: 'p', q: 'x' };
    await w.append(rec({ 'tollgate.request.arguments': args }));
    await w.close();
    expect(parse(lines(file)[0]!)['tollgate.request.arguments']).toEqual({ password: '[REDACTED]', q: 'x' });
    expect(args.password).toBe('p');
  });

  it('redacts credentials in a resource URI (?token=, user:password@) and leaves other URIs as they are', async () => {
    const file = join(tmp(), 'a.jsonl');
    const w = await openAuditWriter({
      destination: { path: file },
      redact: createRedactor({ keys: [], maxValueBytes: 100 }),
    });
    const uris = [
      'srv+https://f.example/a.txt?token=s3cr3t&page=2',
      'db+postgres://app:hunter2@db/x',
      'fs+file:///a.txt',
    ];
    for (const uri of uris) await w.append(rec({ 'mcp.method.name': 'resources/read', 'mcp.resource.uri': uri }));
    await w.close();
    expect(lines(file).map((l) => parse(l)['mcp.resource.uri'])).toEqual([
      'srv+https://f.example/a.txt?token=[REDACTED]&page=2',
      'db+postgres://app:[REDACTED]@db/x',
      'fs+file:///a.txt',
    ]);
    expect((await verifyAudit(file)).ok).toBe(true);
  });

  it('writes any text exactly: quotes, backslashes, control characters, non-ASCII, long values', async () => {
    const file = join(tmp(), 'a.jsonl');
    const w = await openAuditWriter({
      destination: { path: file },
      redact: createRedactor({ keys: [], maxValueBytes: 4096 }),
    });
    const text = `say "hi" \\ tab\t nl\n nul\u0000 é 日本 😀 ${'x'.repeat(300)}`;
    const r = rec({
      'tollgate.decision_reason': text,
      'tollgate.request.arguments': { text, n: 1.5, ok: true, none: null },
    });
    await w.append(r);
    await w.close();
    const [line] = lines(file);
    expect(line).not.toContain('\n');
    const { prev: _prev, ...written } = parse(line!);
    expect(written).toEqual(r);
  });

  it('a failed write rejects its batch and rolls the chain back; later records chain correctly', async () => {
    const out: string[] = [];
    let fail = true;
    const stream = {
      write(buf: Buffer, cb: (err?: Error | null) => void) {
        if (fail) {
          fail = false;
          setImmediate(() => cb(new Error('disk full')));
        } else {
          out.push(buf.toString());
          setImmediate(() => cb(null));
        }
        return true;
      },
    } as unknown as NodeJS.WritableStream;
    const w = await openAuditWriter({ destination: { stream } });
    await expect(w.append(rec())).rejects.toThrow('disk full');
    await w.append(rec());
    expect(w.stats.failedBatches).toBe(1);
    expectChained(out.join('').split('\n').filter(Boolean));
  });

  it('writes a batch at once when the sink can, and rolls the chain back when that write fails', async () => {
    // The file sink's common case (no rotation, no fsync) is written without drain's promise chain;
    // a failure there must reject its batch and keep the chain, as on the async path.
    const out: string[] = [];
    let fail = true;
    const sink = {
      rotations: 0,
      writeNow(buf: Buffer): boolean {
        if (fail) {
          fail = false;
          throw new Error('disk full');
        }
        out.push(buf.toString());
        return true;
      },
      write: (): Promise<void> => Promise.reject(new Error('the batch took the async path')),
      close: (): Promise<void> => Promise.resolve(),
    };
    const w = new AuditWriter(sink, GENESIS_HASH, { destination: 'stdout' }, undefined);
    await expect(w.append(rec())).rejects.toThrow('disk full');
    await Promise.all([w.append(rec()), w.append(rec())]);
    await w.append(rec());
    expect(w.stats).toMatchObject({ failedBatches: 1, records: 3, writes: 2 });
    expectChained(out.join('').split('\n').filter(Boolean));
  });

  it('writes to a stream (stdout), fsync mode works, close flushes and later appends reject', async () => {
    const pt = new PassThrough();
    let text = '';
    pt.on('data', (d: Buffer) => (text += d.toString()));
    const w = await openAuditWriter({ destination: { stream: pt } });
    void w.append(rec());
    await w.close();
    expect(text.split('\n').filter(Boolean)).toHaveLength(1);
    await expect(w.append(rec())).rejects.toThrow(/closed/);

    const file = join(tmp(), 'sub', 'dir', 'a.jsonl');
    const f = await openAuditWriter({ destination: { path: file }, fsync: true });
    await Promise.all([f.append(rec()), f.append(rec())]);
    await f.close();
    expect(existsSync(file) && lines(file)).toHaveLength(2);
  });
});

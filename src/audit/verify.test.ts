import { appendFileSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAuditRecord } from './record.js';
import { openAuditWriter } from './writer.js';
import { verifyAudit } from './verify.js';
import { tempDir } from '../../test/helpers/tmp.js';

const tmp = () => tempDir('audit-v-');

async function writeLog(file: string, count: number, rotateBytes?: number): Promise<void> {
  const w = await openAuditWriter({ destination: { path: file }, ...(rotateBytes ? { rotateBytes } : {}) });
  for (let i = 0; i < count; i++) {
    await w.append(
      createAuditRecord({
        'service.instance.id': 'gw',
        'gen_ai.agent.id': `agent${i % 3}`,
        'tollgate.auth.method': 'api_key',
        'mcp.method.name': 'tools/call',
        'jsonrpc.request.id': i,
        'tollgate.decision': 'allowed',
        'tollgate.outcome': 'ok',
        'tollgate.latency.total_ms': i,
      }),
    );
  }
  await w.close();
}

const readLines = (file: string) => readFileSync(file, 'utf8').split('\n').slice(0, -1);
const writeLines = (file: string, lines: string[]) => writeFileSync(file, lines.map((l) => `${l}\n`).join(''));

describe('verifyAudit', () => {
  it('passes on an intact file', async () => {
    const file = join(tmp(), 'a.jsonl');
    await writeLog(file, 10);
    expect(await verifyAudit(file)).toMatchObject({ ok: true, files: 1, records: 10 });
  });

  it('passes across rotation, for the directory and for each file alone (linked to its predecessor)', async () => {
    const dir = tmp();
    await writeLog(join(dir, 'a.jsonl'), 20, 2500);
    const files = readdirSync(dir);
    expect(files.length).toBeGreaterThan(3);
    expect(await verifyAudit(dir)).toMatchObject({ ok: true, files: files.length, records: 20 });
    for (const f of files) expect((await verifyAudit(join(dir, f))).ok).toBe(true);
  });

  it('an edited record breaks the link to the next line', async () => {
    const file = join(tmp(), 'a.jsonl');
    await writeLog(file, 10);
    const lines = readLines(file);
    lines[4] = lines[4]!.replace('"agent1"', '"agent9"');
    writeLines(file, lines);
    const r = await verifyAudit(file);
    expect(r.ok).toBe(false);
    expect(r.firstBroken).toEqual({ file, line: 6, reason: expect.stringContaining('line 5 was edited') });
    expect(r.records).toBe(5);
  });

  it('a deleted record is reported where it was', async () => {
    const file = join(tmp(), 'a.jsonl');
    await writeLog(file, 10);
    const lines = readLines(file);
    lines.splice(3, 1);
    writeLines(file, lines);
    expect((await verifyAudit(file)).firstBroken).toMatchObject({ file, line: 4 });
  });

  it('reordered and inserted records are reported at their position', async () => {
    const file = join(tmp(), 'a.jsonl');
    await writeLog(file, 10);
    const lines = readLines(file);
    [lines[6], lines[7]] = [lines[7]!, lines[6]!];
    writeLines(file, lines);
    expect((await verifyAudit(file)).firstBroken).toMatchObject({ file, line: 7 });

    const f2 = join(tmp(), 'b.jsonl');
    await writeLog(f2, 5);
    const l2 = readLines(f2);
    l2.splice(2, 0, l2[1]!.replace('"agent1"', '"agent2"'));
    writeLines(f2, l2);
    expect((await verifyAudit(f2)).firstBroken).toMatchObject({ file: f2, line: 3 });
  });

  it('deleting the first record, or garbage, is detected', async () => {
    const file = join(tmp(), 'a.jsonl');
    await writeLog(file, 4);
    const lines = readLines(file);
    writeLines(file, lines.slice(1));
    expect((await verifyAudit(file)).firstBroken).toMatchObject({ line: 1, reason: expect.stringMatching(/genesis/) });
    expect((await verifyAudit(file, { requireGenesis: false })).ok).toBe(true);
    writeLines(file, [lines[0]!, 'not json', ...lines.slice(1)]);
    expect((await verifyAudit(file)).firstBroken).toMatchObject({ line: 2, reason: 'not valid JSON' });
    writeLines(file, [lines[0]!, '', ...lines.slice(1)]);
    expect((await verifyAudit(file)).firstBroken).toMatchObject({ line: 2, reason: 'empty line' });
    writeLines(file, [lines[0]!, '{"a":1}']);
    expect((await verifyAudit(file)).firstBroken).toMatchObject({ line: 2, reason: 'missing or malformed "prev"' });
  });

  it('detects a removed or reordered rotated file', async () => {
    const dir = tmp();
    await writeLog(join(dir, 'a.jsonl'), 20, 2500);
    const files = readdirSync(dir).sort();
    rmSync(join(dir, files[1]!));
    expect((await verifyAudit(dir)).firstBroken).toMatchObject({
      file: join(dir, files[2]!),
      line: 1,
      reason: expect.stringContaining(files[0]!),
    });

    const dir2 = tmp();
    await writeLog(join(dir2, 'a.jsonl'), 20, 2500);
    const f2 = readdirSync(dir2).sort();
    // Swap the order of the first two rotated files by swapping their sequence numbers.
    const swapped = (name: string, seq: string) => name.replace(/\.\d{6}\./, `.${seq}.`);
    renameSync(join(dir2, f2[0]!), join(dir2, 'tmp'));
    renameSync(join(dir2, f2[1]!), join(dir2, swapped(f2[1]!, '000001')));
    renameSync(join(dir2, 'tmp'), join(dir2, swapped(f2[0]!, '000002')));
    expect((await verifyAudit(dir2)).firstBroken).toMatchObject({ line: 1, reason: expect.stringMatching(/genesis/) });
  });

  it('accepts an incomplete last line at the end of the log (a crash mid-write), but not inside it', async () => {
    const dir = tmp();
    await writeLog(join(dir, 'a.jsonl'), 10, 2500);
    appendFileSync(join(dir, 'a.jsonl'), '{"timestamp":"20');
    const r = await verifyAudit(dir);
    expect(r).toMatchObject({ ok: true, records: 10, incompleteTail: { file: join(dir, 'a.jsonl'), bytes: 16 } });
    const first = readdirSync(dir).sort()[0]!;
    appendFileSync(join(dir, first), '{"trunc');
    expect((await verifyAudit(dir)).firstBroken).toMatchObject({
      file: join(dir, first),
      reason: expect.stringMatching(/incomplete/),
    });
  });
});

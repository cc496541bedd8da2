// No acknowledged audit record is lost to kill -9: a child appends concurrently and prints ACK after
// each append resolves; we SIGKILL it mid-run, then every ACKed record must be in the log, the chain
// must verify, and a new writer must continue the chain (repairing a torn tail if the kill left one).
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { createAuditRecord } from '../../src/audit/record.js';
import { openAuditWriter } from '../../src/audit/writer.js';
import { readAudit } from '../../src/audit/query.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { nodeArgs } from '../helpers/compiled.js';
import { tempDir } from '../helpers/tmp.js';

const ULID = /^ACK ([0-9A-HJKMNP-TV-Z]{26})$/;

async function runAndKill(file: string, rotateBytes: number, killAfterAcks: number): Promise<Set<string>> {
  const child = spawn(
    process.execPath,
    [...nodeArgs('test/fixtures/audit-writer-child.ts'), file, String(rotateBytes)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const acked = new Set<string>();
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once('exit', (_code, signal) => resolve(signal)),
  );
  const lines = createInterface({ input: child.stdout! });
  let ready = false;
  lines.on('line', (line) => {
    if (line === 'READY') ready = true;
    const m = ULID.exec(line);
    if (!m) return;
    acked.add(m[1]!);
    if (acked.size === killAfterAcks) child.kill('SIGKILL');
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const signal = await exited;
  clearTimeout(timer);
  // Drain what the child wrote to the pipe before it died.
  await new Promise((r) => (child.stdout!.readableEnded ? r(null) : child.stdout!.once('end', r)));
  expect(ready).toBe(true);
  expect(signal).toBe('SIGKILL');
  return acked;
}

describe('audit writer under kill -9', () => {
  it('every acknowledged record is in the log and the chain verifies, across rotation and restarts', async () => {
    const dir = tempDir('audit-kill-');
    const file = join(dir, 'audit.jsonl');
    const allAcked = new Set<string>();
    for (const killAfter of [3000, 1777, 5003]) {
      const acked = await runAndKill(file, 512 * 1024, killAfter);
      expect(acked.size).toBeGreaterThanOrEqual(killAfter);
      for (const id of acked) allAcked.add(id);

      const v = await verifyAudit(dir);
      expect(v.firstBroken).toBeUndefined();
      expect(v.ok).toBe(true);
      const written = new Set<string>();
      for await (const r of readAudit(dir)) written.add(r['tollgate.record.id']);
      const missing = [...allAcked].filter((id) => !written.has(id));
      expect(missing).toEqual([]);
      expect(written.size).toBeGreaterThanOrEqual(allAcked.size); // written but killed before the ACK: fine
    }
    expect(readdirSync(dir).length).toBeGreaterThan(1); // rotation happened during the runs

    // A new writer continues the chain (truncating any torn tail), and everything verifies.
    const w = await openAuditWriter({ destination: { path: file } });
    await w.append(
      createAuditRecord({
        'service.instance.id': 'after',
        'gen_ai.agent.id': 'a',
        'tollgate.auth.method': 'api_key',
        'tollgate.decision': 'allowed',
        'tollgate.outcome': 'ok',
        'tollgate.latency.total_ms': 0,
      }),
    );
    await w.close();
    const final = await verifyAudit(dir);
    expect(final.ok).toBe(true);
    expect(final.incompleteTail).toBeUndefined();
  });
});

// Two gateways given one audit.file: the second must not start (two writers interleave their hash
// chains and rotate the file under each other); after the first is killed (-9), a restart takes over
// the lock it left behind and continues the chain.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAuditRecord } from './record.js';
import { verifyAudit } from './verify.js';
import { openAuditWriter } from './writer.js';
import { spawnListening } from '../../test/helpers/spawn.js';
import { tempDir } from '../../test/helpers/tmp.js';

const rec = () =>
  createAuditRecord({
    'service.instance.id': 'second',
    'gen_ai.agent.id': 'second',
    'tollgate.auth.method': 'api_key',
    'tollgate.decision': 'allowed',
    'tollgate.outcome': 'ok',
    'tollgate.latency.total_ms': 1,
  });

describe('one writer per audit log', () => {
  it('refuses a second process on a log another one writes; takes over after that one is killed', async () => {
    const file = join(tempDir('audit-lock-'), 'audit.jsonl');
    const first = await spawnListening(['test/fixtures/audit-writer-idle.ts', file]);
    try {
      await expect(openAuditWriter({ destination: { path: file } })).rejects.toThrow(
        new RegExp(`being written by another process \\(pid ${first.child.pid}\\): one writer per audit log`),
      );
    } finally {
      await first.kill(); // SIGKILL: its lock stays behind
    }
    expect(existsSync(`${file}.lock`)).toBe(true);
    const w = await openAuditWriter({ destination: { path: file } });
    await w.append(rec());
    await w.close();
    expect(existsSync(`${file}.lock`)).toBe(false);
    expect(await verifyAudit(file)).toMatchObject({ ok: true, records: 2 });
  });
});

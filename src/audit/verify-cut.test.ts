// Insider attacks on a signed log found in review: what `tollgate audit verify --public-key` must say
// when the file a rotation checkpoint promises (the active file after it) is gone or emptied.
import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { keyIdOf } from './checkpoint.js';
import { createAuditRecord } from './record.js';
import { openAuditWriter } from './writer.js';
import { auditCommand } from '../cli/audit.js';
import { tempDir } from '../../test/helpers/tmp.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');

async function verify(argv: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await auditCommand(['verify', ...argv], { stdout, stderr, isTTY: false, now: Date.now });
  return { code, out };
}

/** A running gateway's log (not closed: no shutdown checkpoint) that has rotated a few times. */
async function rotatedLog(): Promise<{ dir: string; active: string; pub: string; close: () => Promise<void> }> {
  const dir = tempDir('audit-cut-');
  const pub = join(dir, 'audit-key.pub.pem');
  writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  const active = join(dir, 'log', 'tollgate-audit.jsonl');
  const w = await openAuditWriter({
    destination: { path: active },
    rotateBytes: 3000,
    instanceId: 'gw',
    checkpoints: {
      key: { privateKey, keyId: keyIdOf(privateKey) },
      everyRecords: 4,
      everyMs: 3_600_000,
      heartbeatMs: 3_600_000,
    },
  });
  for (let i = 0; i < 14; i++)
    await w.append(
      createAuditRecord({
        'service.instance.id': 'gw',
        'gen_ai.agent.id': 'alice',
        'tollgate.auth.method': 'api_key',
        'mcp.method.name': 'tools/call',
        'gen_ai.tool.name': `fs__delete_${i}`,
        'tollgate.decision': 'allowed',
        'tollgate.outcome': 'ok',
        'tollgate.latency.total_ms': 1,
      }),
    );
  await w.flush();
  expect(readdirSync(join(dir, 'log')).length).toBeGreaterThan(2);
  return { dir, active, pub, close: () => w.close() };
}

describe('verify: a log that ends on a rotation checkpoint', () => {
  it('says the active file is missing when it was deleted (exit 3, not OK)', async () => {
    const log = await rotatedLog();
    await log.close(); // even after a clean stop: its shutdown checkpoint was in the file deleted
    const intact = await verify([join(log.dir, 'log'), '--public-key', log.pub]);
    expect(intact.code).toBe(0);
    expect(intact.out).toMatch(
      /note: no --anchor given: a log cut off right after one of its checkpoints .* would look whole\nOK: /,
    );
    unlinkSync(log.active);
    const r = await verify([join(log.dir, 'log'), '--public-key', log.pub]);
    expect(r.out).not.toMatch(/^OK/m);
    expect(r.out).toMatch(/ends on the rotation checkpoint #\d+ of .*tollgate-audit\.\d+\.\d{8}T\d{6}Z\.jsonl/);
    expect(r.out).toMatch(/the file after it \(tollgate-audit\.jsonl\) is missing or was emptied/);
    expect(r.code).toBe(3);
  });

  it('the same when the active file was emptied while the writer runs', async () => {
    const log = await rotatedLog();
    writeFileSync(log.active, '');
    const r = await verify([join(log.dir, 'log'), '--public-key', log.pub]);
    expect(r.out).toMatch(/ends on the rotation checkpoint #\d+/);
    expect(r.code).toBe(3);
    await log.close();
  });
});

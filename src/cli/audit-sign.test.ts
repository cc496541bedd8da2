import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSigningKey } from '../audit/checkpoint.js';
import { createAuditRecord } from '../audit/record.js';
import { openAuditWriter } from '../audit/writer.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { run as runAudit } from '../../test/helpers/audit-cli.js';
import { sha256Hex } from '../sha256.js';

const run = (argv: string[], now = Date.now()) => runAudit(argv, { now: () => now });

describe('tollgate audit keygen / verify --public-key', () => {
  it('keygen, a signed log, and verify exit codes: 0 signed, 3 unsigned tail, 1 tampered or cut (anchor), 2 bad key', async () => {
    const dir = tempDir('audit-sign-cli-');
    const keyFile = join(dir, 'audit-key.pem');
    const k = await run(['keygen', '--out', keyFile]);
    expect(k.code).toBe(0);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const pub = join(dir, 'audit-key.pub.pem');
    expect(readFileSync(pub, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(k.out).toMatch(/key id [0-9a-f]{16}/);
    expect((await run(['keygen', '--out', keyFile])).code).toBe(1); // never overwrites a key

    const logDir = join(dir, 'log');
    const anchorLines: string[] = [];
    const w = await openAuditWriter({
      destination: { path: join(logDir, 'tollgate-audit.jsonl') },
      rotateBytes: 3000,
      instanceId: 'gw-1',
      checkpoints: {
        key: loadSigningKey(keyFile),
        everyRecords: 4,
        everyMs: 3_600_000,
        heartbeatMs: 3_600_000,
        // as the gateway log has them (audit.checkpoint.anchor: log)
        onCheckpoint: (_l, checkpoint) =>
          anchorLines.push(JSON.stringify({ level: 30, checkpoint, msg: 'audit checkpoint' })),
      },
    });
    for (let i = 0; i < 14; i++)
      await w.append(
        createAuditRecord({
          'service.instance.id': 'gw-1',
          'gen_ai.agent.id': 'alice',
          'tollgate.auth.method': 'api_key',
          'tollgate.decision': 'allowed',
          'tollgate.outcome': 'ok',
          'tollgate.latency.total_ms': i,
        }),
      );
    await w.close();
    const anchor = join(dir, 'gateway.log');
    writeFileSync(anchor, `{"level":30,"msg":"listening"}\n${anchorLines.join('\n')}\n`);

    const ok = await run(['verify', logDir, '--public-key', pub, '--anchor', anchor]);
    expect(ok.out).toMatch(
      /OK: 14 records in \d+ files, chain intact, every record signed, \d+ anchored checkpoints agree\n$/,
    );
    expect(ok.code).toBe(0);
    expect((await run(['verify', logDir])).out).toMatch(/chain intact \(\d+ checkpoints; signatures not checked/);

    // Cut the shutdown checkpoint and the last record: the record before is unsigned (3), the anchor says cut (1).
    const active = join(logDir, 'tollgate-audit.jsonl');
    const lines = readFileSync(active, 'utf8').split('\n').slice(0, -1);
    writeFileSync(active, `${lines.slice(0, -2).join('\n')}\n`);
    const tail = await run(['verify', logDir, '--public-key', pub]);
    expect(tail.out).toMatch(
      /UNSIGNED TAIL: 1 record after checkpoint #\d+, from .*tollgate-audit\.jsonl:\d+, the oldest \d+ s old/,
    );
    expect(tail.code).toBe(3);
    const later = await run(['verify', logDir, '--public-key', pub], Date.now() + 86_400_000);
    expect(later.out).toMatch(/OVERDUE: unsigned for longer than the writer's interval/);
    const cut = await run(['verify', logDir, '--public-key', pub, '--anchor', anchor]);
    expect(cut.out).toMatch(/ANCHOR: chain [0-9a-f]+: the anchor holds checkpoint #\d+ .* the log was cut off/);
    expect(cut.code).toBe(1);

    // An edited record, its link re-made: the checkpoint above it no longer verifies.
    writeFileSync(active, `${lines.join('\n')}\n`);
    const edited = lines.map((l, i) => (i === 0 ? l.replace('"alice"', '"mallory"') : l));
    writeFileSync(active, `${edited.join('\n')}\n`);
    const bad = await run(['verify', logDir, '--public-key', pub]);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/^BROKEN at .*tollgate-audit\.jsonl:2: prev does not match line 1/);

    expect((await run(['verify', logDir, '--public-key', join(dir, 'nope.pem')])).code).toBe(2);
  });

  it('verify prints what the log says inert: a forged checkpoint cannot paint an OK over its BROKEN', async () => {
    // Whoever can write the log chooses the checkpoint's key id and chain id, and the verdict quotes them.
    const dir = tempDir('audit-sign-hostile-');
    const keyFile = join(dir, 'audit-key.pem');
    expect((await run(['keygen', '--out', keyFile])).code).toBe(0);
    const file = join(dir, 'tollgate-audit.jsonl');
    const w = await openAuditWriter({ destination: { path: file }, instanceId: 'gw-1' });
    for (let i = 0; i < 3; i++)
      await w.append(
        createAuditRecord({
          'service.instance.id': 'gw-1',
          'gen_ai.agent.id': 'alice',
          'tollgate.auth.method': 'api_key',
          'tollgate.decision': 'allowed',
          'tollgate.outcome': 'ok',
          'tollgate.latency.total_ms': i,
        }),
      );
    await w.close();
    const last = readFileSync(file, 'utf8').trimEnd().split('\n').at(-1)!;
    const paint = '\r\x1b[2K\x1b[1AOK: 3 records in 1 files, chain intact, every record signed\x1b[8m';
    const checkpoint = (kid: string, chain: string, prev: string, seq: number, records: number) =>
      JSON.stringify({
        timestamp: new Date().toISOString(),
        'service.instance.id': 'gw-1',
        'tollgate.record.kind': 'checkpoint',
        'tollgate.checkpoint.chain': chain,
        'tollgate.checkpoint.seq': seq,
        'tollgate.checkpoint.records': records,
        'tollgate.checkpoint.head': prev,
        'tollgate.checkpoint.reason': 'shutdown',
        'tollgate.checkpoint.every_records': 1000,
        'tollgate.checkpoint.every_ms': 60_000,
        'tollgate.checkpoint.heartbeat_ms': 3_600_000,
        'tollgate.checkpoint.key_id': kid,
        'tollgate.checkpoint.signature': 'AAAA',
        prev,
      });
    const first = checkpoint(`k${paint}`, 'c1', sha256Hex(Buffer.from(last)), 1, 3);
    appendFileSync(file, `${first}\n`);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: what must not reach the terminal
    const control = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
    const signed = await run(['verify', file, '--public-key', join(dir, 'audit-key.pub.pem')]);
    expect(signed.code).toBe(1);
    expect(signed.out).not.toMatch(control);
    expect(signed.out).toMatch(/^BROKEN at .*:4: checkpoint #1 is signed with key id k\\r\\u001b\[2K/);
    expect(signed.out.trimEnd().split('\n')).toHaveLength(1);
    // Without keys the structure is checked: a second checkpoint naming another chain is quoted too.
    const second = checkpoint('k', `c2\n${paint}`, sha256Hex(Buffer.from(first)), 2, 4);
    appendFileSync(file, `${second}\n`);
    const plain = await run(['verify', file]);
    expect(plain.code).toBe(1);
    expect(plain.out).not.toMatch(control);
    expect(plain.out).toMatch(/belongs to another chain \(c2\\n\\r\\u001b\[2K/);
  });
});

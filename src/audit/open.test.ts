import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load.js';
import { openConfiguredAuditWriter } from './open.js';
import { SigningKeyError } from './checkpoint.js';
import { createAuditRecord } from './record.js';
import { tempDir } from '../../test/helpers/tmp.js';

describe('openConfiguredAuditWriter', () => {
  it('audit.checkpoint.anchor: log writes every checkpoint to the gateway log, even at log level warn', async () => {
    const dir = tempDir('audit-open-');
    writeFileSync(
      join(dir, 'k.pem'),
      generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    const { config } = parseConfigText(
      `upstreams: { a: { transport: streamable_http, url: "http://127.0.0.1:1/mcp" } }
audit: { file: a.jsonl, signing_key_file: k.pem, checkpoint: { every_records: 2, anchor: log } }
`,
      join(dir, 'tollgate.yaml'),
      {},
    );
    const logged: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        logged.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        cb();
      },
    });
    const w = (await openConfiguredAuditWriter(config, pino({ level: 'warn' }, sink)))!;
    const rec = () =>
      createAuditRecord({
        'service.instance.id': 'gw',
        'gen_ai.agent.id': 'a',
        'tollgate.auth.method': 'api_key',
        'tollgate.decision': 'allowed',
        'tollgate.outcome': 'ok',
        'tollgate.latency.total_ms': 1,
      });
    await w.append(rec());
    await w.append(rec());
    await w.close();
    const cps = logged.filter((l) => l.msg === 'audit checkpoint');
    expect(cps.map((l) => (l.checkpoint as Record<string, unknown>)['tollgate.checkpoint.reason'])).toEqual([
      'records',
      'shutdown',
    ]);
    expect(cps[0]!.checkpoint).toMatchObject({ 'tollgate.checkpoint.records': 2, 'tollgate.checkpoint.seq': 1 });
  });

  it('a missing or wrong signing key stops the start with a SigningKeyError', async () => {
    const dir = tempDir('audit-open-');
    writeFileSync(
      join(dir, 'rsa.pem'),
      generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    for (const [file, message] of [
      ['missing.pem', /ENOENT/],
      ['rsa.pem', /not an Ed25519 private key/],
    ] as const) {
      const { config } = parseConfigText(
        `upstreams: { a: { transport: streamable_http, url: "http://127.0.0.1:1/mcp" } }\naudit: { file: a.jsonl, signing_key_file: ${file} }\n`,
        join(dir, 'tollgate.yaml'),
        {},
      );
      const err = await openConfiguredAuditWriter(config, pino({ level: 'silent' })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SigningKeyError);
      expect((err as Error).message).toMatch(message);
    }
  });
});

// Signed checkpoints against the tampering the hash chain alone let through (issue 17): an edit of
// the last record, a cut tail, a deleted checkpoint, a rewrite with every hash recomputed.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../sha256.js';
import { keyIdOf, type CheckpointLine, type SigningKey } from './checkpoint.js';
import { createAuditRecord } from './record.js';
import { checkAnchors } from './verify-chain.js';
import { readAudit } from './query.js';
import { verifyAudit } from './verify.js';
import { openAuditWriter, type AuditWriterOptions } from './writer.js';
import { tempDir } from '../../test/helpers/tmp.js';

function keyPair(): { key: SigningKey; keys: Map<string, KeyObject> } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { key: { privateKey, keyId: keyIdOf(privateKey) }, keys: new Map([[keyIdOf(publicKey), publicKey]]) };
}
const { key, keys } = keyPair();

const rec = (i: number) =>
  createAuditRecord({
    'service.instance.id': 'gw',
    'gen_ai.agent.id': 'alice',
    'tollgate.auth.method': 'api_key',
    'mcp.method.name': 'tools/call',
    'gen_ai.tool.name': `fs__read_${i}`,
    'jsonrpc.request.id': i,
    'tollgate.decision': 'allowed',
    'tollgate.outcome': 'ok',
    'tollgate.latency.total_ms': 1,
  });

interface Written {
  anchors: CheckpointLine[];
}

async function writeSigned(
  file: string,
  count: number,
  extra: Partial<AuditWriterOptions> = {},
  close = true,
  signingKey: SigningKey = key,
): Promise<Written> {
  const anchors: CheckpointLine[] = [];
  const w = await openAuditWriter({
    destination: { path: file },
    instanceId: 'gw',
    checkpoints: {
      key: signingKey,
      everyRecords: 5,
      everyMs: 3_600_000,
      heartbeatMs: 3_600_000,
      onCheckpoint: (_line, c) => anchors.push(c),
    },
    ...extra,
  });
  for (let i = 0; i < count; i++) await w.append(rec(i));
  if (close) await w.close();
  else await w.flush();
  return { anchors };
}

const read = (file: string) => readFileSync(file, 'utf8').split('\n').slice(0, -1);
const save = (file: string, lines: string[]) => writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
const isCp = (l: string) => l.includes('"tollgate.record.kind":"checkpoint"');

/** What an attacker without the key can do: re-link every line from `from` on (checkpoints' heads too). */
function recompute(lines: string[], from: number): string[] {
  const out = lines.slice(0, from);
  let prev = from === 0 ? '0'.repeat(64) : sha256Hex(out[from - 1]!);
  for (const l of lines.slice(from)) {
    const o = JSON.parse(l) as Record<string, unknown>;
    o.prev = prev;
    if (o['tollgate.record.kind'] === 'checkpoint') o['tollgate.checkpoint.head'] = prev;
    const line = JSON.stringify(o);
    out.push(line);
    prev = sha256Hex(line);
  }
  return out;
}

describe('signed checkpoints', () => {
  it('an intact log with rotations passes: every rotated file ends signed, the log ends with a shutdown checkpoint', async () => {
    const dir = tempDir('audit-s-');
    await writeSigned(join(dir, 'a.jsonl'), 23, { rotateBytes: 4000 });
    const files = readdirSync(dir).sort();
    expect(files.length).toBeGreaterThan(2);
    const r = await verifyAudit(dir, { publicKeys: keys });
    expect(r).toMatchObject({ ok: true, records: 23, files: files.length });
    expect(r.sets[0]!.unsignedTail).toBeUndefined();
    expect(r.sets[0]!.stale).toBeUndefined();
    expect(r.sets[0]!.lastCheckpoint).toMatchObject({ reason: 'shutdown' });
    // Listings, stats and the admin page read records: checkpoints are not among them.
    const listed = [];
    for await (const x of readAudit(dir)) listed.push(x);
    expect(listed.map((x) => x['jsonrpc.request.id'])).toEqual(Array.from({ length: 23 }, (_, i) => i));
    for (const f of files.filter((f) => f !== 'a.jsonl')) {
      const last = JSON.parse(read(join(dir, f)).at(-1)!) as CheckpointLine;
      expect(last['tollgate.checkpoint.reason']).toBe('rotation');
      const alone = await verifyAudit(join(dir, f), { publicKeys: keys, now: Date.now() + 86_400_000 });
      expect(alone.ok).toBe(true);
      expect(alone.sets[0]!.stale).toBeUndefined();
    }
  });

  it('a restarted writer (after a crash) resumes the count and sequence: the whole log still verifies', async () => {
    const file = join(tempDir('audit-s-'), 'a.jsonl');
    await writeSigned(file, 7, {}, false); // no close: no shutdown checkpoint, 2 records unsigned
    const crashed = await verifyAudit(file, { publicKeys: keys });
    expect(crashed.sets[0]!.unsignedTail).toMatchObject({ records: 2 });
    await writeSigned(file, 6);
    const r = await verifyAudit(file, { publicKeys: keys });
    expect(r).toMatchObject({ ok: true, records: 13 });
    expect(r.sets[0]!.unsignedTail).toBeUndefined();
    expect(r.sets[0]!.lastCheckpoint).toMatchObject({ reason: 'shutdown', seq: 3 });
  });

  it('an edit of the last record is detected, however the attacker re-links', async () => {
    const file = join(tempDir('audit-s-'), 'a.jsonl');
    await writeSigned(file, 8);
    const lines = read(file);
    const i = lines.length - 2; // the last record; the shutdown checkpoint follows
    const edited = [...lines];
    edited[i] = edited[i]!.replace('"allowed"', '"denied"');
    save(file, edited);
    let r = await verifyAudit(file, { publicKeys: keys });
    expect(r.firstBroken).toMatchObject({ line: i + 2, reason: expect.stringMatching(/line \d+ was edited/) });
    const relinked = [...edited];
    const cp = JSON.parse(relinked[i + 1]!) as Record<string, unknown>;
    cp.prev = sha256Hex(edited[i]!);
    relinked[i + 1] = JSON.stringify(cp);
    save(file, relinked);
    r = await verifyAudit(file, { publicKeys: keys });
    expect(r.firstBroken?.reason).toMatch(/signed head is not its prev: the chain below it was relinked/);
    save(file, recompute(edited, i + 1));
    r = await verifyAudit(file, { publicKeys: keys });
    expect(r.firstBroken?.reason).toMatch(/#\d+: the signature does not verify/);
  });

  it('a cut tail shows as unsigned records, a stale end, or against the anchor', async () => {
    const file = join(tempDir('audit-s-'), 'a.jsonl');
    const { anchors } = await writeSigned(file, 12);
    const lines = read(file);
    // Cut between checkpoints: records after the last checkpoint are reported, with their size and age.
    save(file, lines.slice(0, -2));
    let r = await verifyAudit(file, { publicKeys: keys });
    expect(r.ok).toBe(true);
    expect(r.sets[0]!.unsignedTail).toMatchObject({ records: 1, firstAt: expect.any(String) });
    // Far later, with the writer's schedule, that tail is overdue.
    r = await verifyAudit(file, { publicKeys: keys, now: Date.now() + 86_400_000 });
    expect(r.sets[0]!.unsignedTail?.overdue).toMatch(/unsigned for longer than the writer's interval/);
    // Cut exactly after a checkpoint: the log itself looks whole, the anchor does not agree.
    const atCheckpoint = lines.findLastIndex((l, idx) => isCp(l) && idx < lines.length - 1);
    save(file, lines.slice(0, atCheckpoint + 1));
    r = await verifyAudit(file, { publicKeys: keys });
    expect(r.ok).toBe(true);
    const findings = checkAnchors(r.sets, anchors, keys);
    expect(findings.filter((f) => !f.ok).map((f) => f.message)).toEqual([
      expect.stringMatching(/the anchor holds checkpoint #3 .* the log ends at #2: the log was cut off/),
    ]);
    // …and once the writer's heartbeat has passed without a newer checkpoint, the end is stale.
    r = await verifyAudit(file, { publicKeys: keys, now: Date.now() + 86_400_000 });
    expect(r.sets[0]!.stale).toMatch(/not a shutdown checkpoint: the log was cut off after it/);
    // The intact log agrees with its anchor.
    save(file, lines);
    expect(checkAnchors((await verifyAudit(file, { publicKeys: keys })).sets, anchors, keys)).toEqual([]);
  });

  it('a deleted checkpoint is detected, re-linked or not', async () => {
    const file = join(tempDir('audit-s-'), 'a.jsonl');
    await writeSigned(file, 12);
    const lines = read(file);
    const first = lines.findIndex(isCp);
    const without = lines.filter((_, idx) => idx !== first);
    save(file, without);
    let r = await verifyAudit(file, { publicKeys: keys });
    expect(r.firstBroken).toMatchObject({ line: first + 1 });
    save(file, recompute(without, first));
    r = await verifyAudit(file, { publicKeys: keys });
    expect(r.ok).toBe(false);
    expect(r.firstBroken?.reason).toMatch(/checkpoint #2 says \d+ lines precede it, the chain has \d+/);
    // The attacker fixes the count too: the sequence has a hole, and the signature fails.
    const fixed = recompute(
      without.map((l) =>
        isCp(l)
          ? l.replace(/"tollgate.checkpoint.records":(\d+)/, (_, n) => `"tollgate.checkpoint.records":${Number(n) - 1}`)
          : l,
      ),
      first,
    );
    save(file, fixed);
    r = await verifyAudit(file, { publicKeys: keys });
    expect(r.firstBroken?.reason).toMatch(/checkpoint #1 missing before checkpoint #2 .*: a checkpoint was deleted/);
    // The last checkpoint deleted: the records before it are an unsigned tail again.
    save(file, lines.slice(0, -1));
    r = await verifyAudit(file, { publicKeys: keys });
    expect(r.sets[0]!.unsignedTail).toMatchObject({ records: 2 });
  });

  it('a full rewrite with recomputed hashes fails at the first checkpoint; dropping every checkpoint leaves nothing signed', async () => {
    const file = join(tempDir('audit-s-'), 'a.jsonl');
    await writeSigned(file, 12);
    const lines = read(file);
    const rewritten = lines.map((l, idx) => (idx === 1 ? l.replace('"alice"', '"mallory"') : l));
    save(file, recompute(rewritten, 1));
    expect(await verifyAudit(file)).toMatchObject({ ok: true }); // the chain alone: passes
    let r = await verifyAudit(file, { publicKeys: keys });
    expect(r.firstBroken).toMatchObject({
      line: lines.findIndex(isCp) + 1,
      reason: expect.stringMatching(/signature does not verify/),
    });
    save(
      file,
      recompute(
        rewritten.filter((l) => !isCp(l)),
        1,
      ),
    );
    r = await verifyAudit(file, { publicKeys: keys });
    expect(r).toMatchObject({ ok: true, checkpoints: 0 });
    expect(r.sets[0]!.unsignedTail).toMatchObject({ records: 12 });
  });

  it('a checkpoint signed with another key is refused', async () => {
    const file = join(tempDir('audit-s-'), 'a.jsonl');
    await writeSigned(file, 3, {}, true, keyPair().key);
    const r = await verifyAudit(file, { publicKeys: keys });
    expect(r.firstBroken?.reason).toMatch(/signed with key id [0-9a-f]{16}, which is not among the given public keys/);
  });

  it('a checkpoint comes by the interval timer when records wait, and reaches the anchor', async () => {
    const file = join(tempDir('audit-s-'), 'a.jsonl');
    let seen!: (c: CheckpointLine) => void;
    const got = new Promise<CheckpointLine>((r) => (seen = r));
    const w = await openAuditWriter({
      destination: { path: file },
      instanceId: 'gw',
      checkpoints: { key, everyRecords: 1000, everyMs: 20, heartbeatMs: 3_600_000, onCheckpoint: (_l, c) => seen(c) },
    });
    await w.append(rec(1));
    const c = await got;
    expect(c).toMatchObject({ 'tollgate.checkpoint.reason': 'interval', 'tollgate.checkpoint.records': 1 });
    await w.close();
    expect((await verifyAudit(file, { publicKeys: keys })).sets[0]).toMatchObject({ ok: true, checkpoints: 2 });
  });
});

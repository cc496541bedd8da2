// Export of the audit log to what security teams run (issue 17): OTLP/HTTP logs (JSON) to an in-test
// collector, and a webhook that fails, is slow, and comes back — calls never wait for it, the
// primary log has every record, and what could not be queued is counted on /metrics. Signed
// checkpoints travel with the records (the collector holds the anchor).
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startGateway, TEST_KEY } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';
import { keyIdOf } from '../../src/audit/checkpoint.js';
import { verifyAudit } from '../../src/audit/verify.js';

// Bounded waits on a loaded machine (they end as soon as the condition holds).
const until = (cond: () => boolean | Promise<boolean>) => waitUntil(cond, 30_000);

interface OtlpAttr {
  key: string;
  value: Record<string, unknown>;
}
interface OtlpLog {
  attributes: OtlpAttr[];
  severityText: string;
  timeUnixNano: string;
}

let gw: Awaited<ReturnType<typeof startGateway>>;
let client: Client;
let otlp: Server;
let hook: Server;
const otlpLogs: OtlpLog[] = [];
const otlpResources: OtlpAttr[][] = [];
const hookRecords: Record<string, unknown>[] = [];
let hookMode: 'ok' | 'fail' | 'hold' = 'ok';
let hookRequests = 0;
let publicKeys: Map<string, KeyObject>;
const held: ServerResponse[] = [];

async function body(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

const listen = async (s: Server) => {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
};

const attr = (l: OtlpLog, key: string) => l.attributes.find((a) => a.key === key)?.value;
const call = (text: string) => client.callTool({ name: 'feat__echo', arguments: { text } });
const metric = async (name: string): Promise<number> => {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const m = new RegExp(`^${name}\\{exporter="webhook"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
};

beforeAll(async () => {
  otlp = createServer(async (req, res) => {
    const b = JSON.parse(await body(req)) as {
      resourceLogs: { resource: { attributes: OtlpAttr[] }; scopeLogs: { logRecords: OtlpLog[] }[] }[];
    };
    expect(req.url).toBe('/v1/logs');
    expect(req.headers['content-type']).toBe('application/json');
    for (const rl of b.resourceLogs) {
      otlpResources.push(rl.resource.attributes);
      for (const sl of rl.scopeLogs) otlpLogs.push(...sl.logRecords);
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  hook = createServer(async (req, res) => {
    const text = await body(req);
    hookRequests++;
    if (hookMode === 'fail') return void res.writeHead(503).end();
    if (hookMode === 'hold') return void held.push(res); // a collector that does not answer (yet)
    expect(req.headers.authorization).toBe('Bearer siem-token');
    hookRecords.push(...(JSON.parse(text) as { records: Record<string, unknown>[] }).records);
    res.writeHead(204).end();
  });
  const [otlpUrl, hookUrl] = await Promise.all([listen(otlp), listen(hook)]);
  const dir = tempDir('tollgate-export-');
  const key = join(dir, 'audit-key.pem');
  const pair = generateKeyPairSync('ed25519');
  writeFileSync(key, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  publicKeys = new Map([[keyIdOf(pair.publicKey), pair.publicKey]]);
  gw = await startGateway(`
upstreams:
  feat:
    transport: stdio
    command: node
    args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio]
auth:
  api_keys: [{ agent: tester, key: ${TEST_KEY} }]
audit:
  signing_key_file: ${key}
  checkpoint: { every_records: 5 }
  export:
    otlp: { endpoint: ${otlpUrl}/v1/logs, batch_size: 4, flush_interval: 20ms }
    webhook:
      url: ${hookUrl}/hook
      headers: { Authorization: Bearer siem-token }
      batch_size: 4
      flush_interval: 20ms
      queue_size: 10
      retry_initial: 20ms
      retry_max: 100ms
      timeout: 60s
`);
  client = await connect(`${gw.url}/mcp`);
});

afterAll(async () => {
  for (const r of held.splice(0)) r.writeHead(204).end();
  await client?.close();
  await gw?.close();
  otlp?.closeAllConnections();
  hook?.closeAllConnections();
  await Promise.all([otlp, hook].map((s) => new Promise((r) => s?.close(r))));
});

describe('audit export', () => {
  it('OTLP: one log record per audit record, attributes named as in the audit log, checkpoints too', async () => {
    await call('otlp-1');
    await call('otlp-2');
    await until(() => otlpLogs.filter((l) => attr(l, 'gen_ai.tool.name')?.stringValue === 'feat__echo').length >= 2);
    const log = otlpLogs.find((l) => attr(l, 'gen_ai.tool.name')?.stringValue === 'feat__echo')!;
    expect(attr(log, 'gen_ai.agent.id')).toEqual({ stringValue: 'tester' });
    expect(attr(log, 'mcp.method.name')).toEqual({ stringValue: 'tools/call' });
    expect(attr(log, 'tollgate.decision')).toEqual({ stringValue: 'allowed' });
    expect(attr(log, 'tollgate.request.arguments')).toEqual({
      kvlistValue: { values: [{ key: 'text', value: { stringValue: 'otlp-1' } }] },
    });
    expect(attr(log, 'tollgate.chain.prev')?.stringValue).toMatch(/^[0-9a-f]{64}$/);
    expect(log.timeUnixNano).toMatch(/^\d{19}$/);
    expect(otlpResources[0]).toContainEqual({ key: 'service.name', value: { stringValue: 'tollgate' } });
    // The log's records, in the collector with the same ids.
    const ids = readFileSync(gw.auditFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as Record<string, string>)['tollgate.record.id']);
    await until(() => otlpLogs.length >= ids.length);
    expect(otlpLogs.map((l) => attr(l, 'tollgate.record.id')?.stringValue)).toEqual(expect.arrayContaining(ids));
    // every_records: 5 — a signed checkpoint reached the collector.
    for (let i = 0; i < 5; i++) await call(`more-${i}`);
    await until(() => otlpLogs.some((l) => attr(l, 'event.name')?.stringValue === 'tollgate.audit.checkpoint'));
    const cp = otlpLogs.find((l) => attr(l, 'event.name')?.stringValue === 'tollgate.audit.checkpoint')!;
    expect(attr(cp, 'tollgate.checkpoint.signature')?.stringValue).toMatch(/^[A-Za-z0-9_-]{86}$/);
  });

  it('webhook: a failing collector is retried with backoff until it comes back; calls never wait', async () => {
    hookMode = 'fail';
    const before = hookRequests;
    for (let i = 0; i < 3; i++) expect((await call(`fail-${i}`)).isError).toBeFalsy();
    await until(async () => (await metric('tollgate_audit_export_failures_total')) >= 2 && hookRequests >= before + 2);
    hookMode = 'ok';
    await until(() =>
      hookRecords.some((r) => (r['tollgate.request.arguments'] as { text?: string })?.text === 'fail-2'),
    );
    // Exactly the lines of the log (re-verifiable bytes), none twice.
    const lines = readFileSync(gw.auditFile, 'utf8').trim().split('\n');
    for (const r of hookRecords) expect(lines).toContain(JSON.stringify(r));
    const ids = hookRecords.map((r) => r['tollgate.record.id']);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('webhook: a collector that does not answer fills the bounded queue; the rest is dropped and counted, the log keeps all', async () => {
    hookMode = 'hold';
    const droppedBefore = await metric('tollgate_audit_export_dropped_total');
    await call('hold-0'); // its batch goes out and hangs
    await until(() => held.length >= 1);
    for (let i = 1; i <= 30; i++) expect((await call(`hold-${i}`)).isError).toBeFalsy(); // answered while it hangs
    await until(async () => (await metric('tollgate_audit_export_dropped_total')) > droppedBefore);
    expect(await metric('tollgate_audit_export_queue')).toBeLessThanOrEqual(10);
    const log = readFileSync(gw.auditFile, 'utf8');
    for (let i = 0; i <= 30; i++) expect(log).toContain(`"text":"hold-${i}"`);
    // It comes back: what was queued and what comes next arrives.
    hookMode = 'ok';
    for (const r of held.splice(0)) r.writeHead(204).end();
    await call('back');
    await until(() => hookRecords.some((r) => (r['tollgate.request.arguments'] as { text?: string })?.text === 'back'));
  });

  it("the gateway's log is signed: it verifies with the public key, the checkpoints the collector got are the log's", async () => {
    const r = await verifyAudit(gw.auditFile, { publicKeys });
    expect(r).toMatchObject({ ok: true });
    expect(r.checkpoints).toBeGreaterThanOrEqual(2);
    const seqs = otlpLogs
      .filter((l) => attr(l, 'event.name')?.stringValue === 'tollgate.audit.checkpoint')
      .map((l) => Number(attr(l, 'tollgate.checkpoint.seq')?.intValue));
    expect(seqs.length).toBeGreaterThan(0);
    expect(r.sets[0]!.signed.map((c) => c.seq)).toEqual(expect.arrayContaining(seqs));
  });
});

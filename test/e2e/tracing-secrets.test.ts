// Audit records and traces leave the host (PostgreSQL, a SIEM, an OTLP collector): a resource URI
// carrying a credential (`?token=…`, `user:password@`) is redacted in every field that names it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { authYaml, startGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { waitUntil } from '../helpers/wait.js';
import { attrs, startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';

const TOKEN = 'resource-token-9c2e7b41d0';
const URI = `https://files.example/report.pdf?token=${TOKEN}`;

/** A Streamable HTTP MCP server with one resource whose URI holds a token. */
function resourceServer(): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST') return res.writeHead(405).end();
      const msg = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: number; method: string };
      if (msg.id === undefined) return res.writeHead(202).end();
      const result =
        msg.method === 'initialize'
          ? { protocolVersion: '2025-06-18', capabilities: { resources: {} }, serverInfo: { name: 'r', version: '1' } }
          : msg.method === 'resources/list'
            ? { resources: [{ uri: URI, name: 'report' }] }
            : msg.method === 'resources/read'
              ? { contents: [{ uri: URI, text: 'quarterly numbers' }] }
              : {};
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
    });
  });
}

let upstream: Server;
let otlp: OtlpReceiver;
let gw: Awaited<ReturnType<typeof startGateway>>;
let agent: Client;

beforeAll(async () => {
  otlp = await startOtlpReceiver();
  upstream = resourceServer();
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  gw = await startGateway(`
upstreams:
  files: { transport: streamable_http, url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp", protocol: "2025" }
telemetry:
  service_name: tollgate-test
  otlp: { endpoint: ${otlp.url} }
  batch: { delay: 50ms }
${authYaml()}`);
  agent = await connect(`${gw.url}/mcp`);
});

afterAll(async () => {
  await agent?.close();
  await gw?.close();
  await new Promise((r) => upstream?.close(r));
  await otlp?.close();
});

it('the audit record names the resource without its token, native name included', async () => {
  const listed = await agent.listResources();
  const uri = listed.resources[0]!.uri;
  expect((await agent.readResource({ uri })).contents[0]).toMatchObject({ text: 'quarterly numbers' });
  const lines = readFileSync(gw.auditFile, 'utf8').split('\n');
  const read = lines.filter((l) => l.includes('"resources/read"'));
  expect(read.length).toBe(1);
  expect(read[0]).toContain('report.pdf'); // the resource is still named…
  expect(lines.filter((l) => l.includes(TOKEN))).toEqual([]); // …without its token (README "Audit log")
});

it('trace spans (request and upstream) name the resource without its token', async () => {
  const uri = (await agent.listResources()).resources[0]!.uri;
  await agent.readResource({ uri });
  await waitUntil(() => otlp.spans.some((s) => s.name.startsWith('resources/read ')), 10_000);
  const named = otlp.spans.filter((s) => s.name.startsWith('resources/read ') || attrs(s)['mcp.resource.uri']);
  expect(named.length).toBeGreaterThanOrEqual(2); // the request span and the upstream span
  expect(JSON.stringify(named)).toContain('report.pdf'); // the resource is still named…
  expect(JSON.stringify(otlp.spans)).not.toContain(TOKEN); // …without its token
});

// Hardening: an upstream (or a proxy before it) whose error page quotes the request's headers back.
// The gateway repeats an HTTP upstream's error body in what it reports (the agent's error, the audit
// record, /readyz, `tollgate check`), so the credential it sent there from `headers:` must not come
// back with it: /readyz needs no credentials at all, and agents must never see the operator's token.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { authYaml, startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';

const SECRET = 'upstream-operator-secret-4f1c9a7e';

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** /ok: a working MCP server whose tools/call fails with a page quoting the headers; /always: that page for everything. */
function echoingUpstream(): Server {
  return createServer(async (req, res) => {
    const body = await readBody(req);
    const quote = () => {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(
        `Bad request. You sent Authorization: ${req.headers.authorization} and x-api-key: ${req.headers['x-api-key']}`,
      );
    };
    if (req.method !== 'POST' || req.url === '/always') return quote();
    const msg = JSON.parse(body) as {
      id?: number;
      method: string;
      params?: { name?: string; _meta?: { progressToken?: string | number } };
    };
    if (msg.id === undefined) return res.writeHead(202).end();
    const answer = (result: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
    };
    // A JSON-RPC error (HTTP 200) quoting the request's headers, in its message and its data.
    const rpcError = () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const said = `You sent Authorization: ${req.headers.authorization}`;
      res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, error: { code: -32000, message: said, data: { said } } }));
    };
    if (req.url === '/rpc-refuses') return rpcError(); // initialize itself fails
    if (msg.method === 'tools/call' && msg.params?.name === 'act_rpc') return rpcError();
    // A log line and progress quoting the request's headers, on the call's SSE stream, then the result.
    if (msg.method === 'tools/call' && msg.params?.name === 'act_log') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const said = `calling with Authorization: ${req.headers.authorization}`;
      const event = (m: unknown) => res.write(`event: message\ndata: ${JSON.stringify(m)}\n\n`);
      event({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: { said } } });
      const token = msg.params._meta?.progressToken;
      if (token !== undefined)
        event({
          jsonrpc: '2.0',
          method: 'notifications/progress',
          params: { progressToken: token, progress: 1, message: said },
        });
      event({ jsonrpc: '2.0', id: msg.id, result: { content: [{ type: 'text', text: 'done' }] } });
      return res.end();
    }
    if (msg.method === 'initialize')
      return answer({
        protocolVersion: '2025-06-18',
        capabilities: { tools: {}, logging: {} },
        serverInfo: { name: 'e', version: '1' },
      });
    if (msg.method === 'tools/list')
      return answer({
        tools: ['act', 'act_rpc', 'act_log'].map((name) => ({
          name,
          description: 'does it',
          inputSchema: { type: 'object' },
        })),
      });
    if (msg.method === 'tools/call') return quote();
    answer({});
  });
}

let upstream: Server;
let gw: TestGateway & { auditFile: string };
let agent: Client;

beforeAll(async () => {
  upstream = echoingUpstream();
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const headers = '{ authorization: "Bearer ${UP_TOKEN}", x-api-key: "${UP_TOKEN}" }';
  gw = await startGateway(
    `upstreams:
  works: { transport: streamable_http, url: "${base}/ok", protocol: "2025", headers: ${headers} }
  quotes: { transport: streamable_http, url: "${base}/always", protocol: "2025", headers: ${headers} }
  refuses: { transport: streamable_http, url: "${base}/rpc-refuses", protocol: "2025", headers: ${headers} }
${authYaml()}`,
    { UP_TOKEN: SECRET },
  );
  agent = await connect(`${gw.url}/mcp`);
});

afterAll(async () => {
  await agent?.close();
  await gw?.close();
  await new Promise((r) => upstream?.close(r));
});

describe('an upstream quoting our credential in its error page', () => {
  it('/readyz (no credentials needed) reports the failure without the credential', async () => {
    const text = await (await fetch(`${gw.url}/readyz`)).text();
    expect(text).toContain('HTTP 400'); // the failure is still reported…
    expect(text).not.toContain(SECRET); // …without what we sent
    const quotes = gw.gw.upstreams.find((u) => u.name === 'quotes');
    expect(quotes?.lastError).not.toContain(SECRET); // `tollgate check --connect` prints this
  });

  it('the agent and the audit log get the error without the credential', async () => {
    const err = await agent.callTool({ name: 'works__act', arguments: {} }).then(
      (r) => JSON.stringify(r),
      (e: Error) => e.message,
    );
    expect(err).toContain('HTTP 400');
    expect(err).not.toContain(SECRET);
    expect(readFileSync(gw.auditFile, 'utf8')).not.toContain(SECRET);
  });
});

describe('an upstream quoting our credential in a JSON-RPC error', () => {
  it('a refused initialize reaches /readyz and lastError without the credential', async () => {
    const text = await (await fetch(`${gw.url}/readyz`)).text();
    expect(text).toContain('upstream refused initialize: You sent Authorization: [REDACTED]');
    expect(text).not.toContain(SECRET);
    const refuses = gw.gw.upstreams.find((u) => u.name === 'refuses');
    expect(refuses?.lastError).toContain('[REDACTED]');
    expect(refuses?.lastError).not.toContain(SECRET);
  });

  it('a tools/call error reaches the agent and the audit log without the credential', async () => {
    const err = await agent.callTool({ name: 'works__act_rpc', arguments: {} }).then(
      (r) => JSON.stringify(r),
      (e: Error) => e.message,
    );
    expect(err).toContain('You sent Authorization: [REDACTED]');
    expect(err).not.toContain(SECRET);
    const audit = readFileSync(gw.auditFile, 'utf8');
    expect(audit).toContain('act_rpc');
    expect(audit).not.toContain(SECRET);
  });
});

describe('an upstream quoting our credential in its log lines and progress', () => {
  it('the agent gets them without the credential', async () => {
    const logs: unknown[] = [];
    const progress: unknown[] = [];
    agent.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
    const r = await agent.callTool({ name: 'works__act_log', arguments: {} }, undefined, {
      onprogress: (p) => void progress.push(p.message),
    });
    expect(r.content).toEqual([{ type: 'text', text: 'done' }]);
    expect(logs).toEqual([{ said: 'calling with Authorization: [REDACTED]' }]);
    expect(progress).toEqual(['calling with Authorization: [REDACTED]']);
  });
});

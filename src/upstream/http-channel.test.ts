import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load.js';
import type { HttpUpstreamConfig } from '../config/runtime.js';
import type { JsonRpcMessage } from '../mcp/jsonrpc.js';
import type { ChannelAuth } from './channel-auth.js';
import { HttpChannel } from './http-channel.js';

// A user's token as an OAuth upstream hands it out: refreshed once the upstream refuses it.
const FIRST = 'user-token-first-3c9d01';
const SECOND = 'user-token-second-7e2a44';

/** Refuses the first token (401); answers anything with the second by an error quoting both it has seen. */
function upstream(): Server {
  const seen: string[] = [];
  return createServer((req, res) => {
    const auth = String(req.headers.authorization);
    if (!seen.includes(auth)) seen.push(auth);
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      if (auth === `Bearer ${FIRST}`) return res.writeHead(401).end();
      const { id } = JSON.parse(body) as { id: number };
      const message = `not allowed; this session has sent ${seen.join(', ')}`;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32000, message } }));
    });
  });
}

let server: Server;
let cfg: HttpUpstreamConfig;
beforeAll(async () => {
  server = upstream();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  const { config } = parseConfigText(
    `upstreams:\n  up: { transport: streamable_http, url: "${url}", protocol: "2025" }\nauth: { api_keys: [{ agent: a, key: test-key-0123456789 }] }\n`,
    '/tmp/tollgate.yaml',
    {},
  );
  cfg = config.upstreams[0] as HttpUpstreamConfig;
});
afterAll(() => new Promise((r) => server?.close(r)));

describe('per-user credentials quoted back by the upstream', () => {
  it('a token sent earlier on the channel (refreshed since) is cut as well as the current one', async () => {
    let token = FIRST;
    const auth: ChannelAuth = {
      headers: async () => ({ authorization: `Bearer ${token}` }),
      rejected: async () => {
        token = SECOND;
      },
    };
    const channel = new HttpChannel(cfg, pino({ level: 'silent' }), {}, cfg.url, auth);
    const got: JsonRpcMessage[] = [];
    await channel.open({ message: (m) => void got.push(m), closed: () => undefined });
    await channel.send({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    await channel.close({ endSession: false });
    const text = JSON.stringify(got);
    expect(text).toContain('not allowed; this session has sent [REDACTED], [REDACTED]');
    expect(text).not.toContain(FIRST);
    expect(text).not.toContain(SECOND);
  });
});

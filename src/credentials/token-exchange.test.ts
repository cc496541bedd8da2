// RFC 8693 token exchange against a token endpoint that issues tokens for less than refresh_before:
// the exchanged token is used for half its lifetime, not exchanged again on every request.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { AgentIdentity } from '../auth/identity.js';
import type { UpstreamAuth } from './runtime.js';
import { rememberSubjectToken } from './subject-token.js';
import { TokenExchange } from './token-exchange.js';

let server: Server;
let tokenEndpoint: string;
/** Exchanges the endpoint answered, in order. */
let issued = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      issued++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          access_token: `exchanged-${issued}`,
          issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
          token_type: 'Bearer',
          expires_in: 30,
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  tokenEndpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

it('a token issued for less than refresh_before is used for half its lifetime, not exchanged per request', async () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    const auth: Extract<UpstreamAuth, { kind: 'token_exchange' }> = {
      kind: 'token_exchange',
      tokenEndpoint,
      client: { id: 'tollgate', secret: 'tollgate-secret-0123' },
      audience: undefined,
      resource: undefined,
      scopes: [],
      subjectTokenType: 'urn:ietf:params:oauth:token-type:jwt',
      catalogHeaders: {},
    };
    const tx = new TokenExchange('warehouse', 'http://127.0.0.1:9/mcp', auth, 60_000);
    const alice: AgentIdentity = { id: 'alice', method: 'jwt', scopes: [], claims: {} };
    rememberSubjectToken(alice, 'alice-jwt');
    tx.accept(alice);
    const headers = () => tx.channelAuth('alice')?.headers();
    const before = issued;
    expect(await headers()).toEqual({ authorization: `Bearer exchanged-${before + 1}` });
    vi.setSystemTime(Date.now() + 10_000);
    for (let i = 0; i < 5; i++) expect(await headers()).toEqual({ authorization: `Bearer exchanged-${before + 1}` });
    expect(issued - before).toBe(1);
    vi.setSystemTime(Date.now() + 5_000); // 15 s of its 30: the second half begins
    expect(await headers()).toEqual({ authorization: `Bearer exchanged-${before + 2}` });
    expect(await headers()).toEqual({ authorization: `Bearer exchanged-${before + 2}` });
    expect(issued - before).toBe(2);
  } finally {
    vi.useRealTimers();
  }
});

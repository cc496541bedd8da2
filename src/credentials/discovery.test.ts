// Discovery against a hostile upstream: what it names in its 401 must not send Tollgate elsewhere.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { discover } from './discovery.js';
import { tokenRequest } from './oauth-client.js';
import { upstreamReach } from './reach.js';

const servers: Server[] = [];

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

describe('discovery', () => {
  it("never fetches a resource_metadata URL outside the upstream's own origin (SSRF)", async () => {
    // Stands for a host only the gateway can reach (a cloud metadata service, an admin port).
    const internalHits: string[] = [];
    const internal = await serve((req, res) => {
      internalHits.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
    const upstream = await serve((req, res) => {
      if (req.method === 'POST') {
        res.writeHead(401, {
          'www-authenticate': `Bearer resource_metadata="${internal}/latest/meta-data/iam"`,
        });
        res.end();
        return;
      }
      res.writeHead(404);
      res.end();
    });
    await expect(discover(`${upstream}/mcp`)).rejects.toThrow(/protected resource metadata/);
    expect(internalHits).toEqual([]);
  });

  /** An upstream on 127.0.0.1 whose protected resource metadata names `issuer` as its AS. */
  const upstreamNaming = (issuer: () => string) =>
    serve((req, res) => {
      if (req.method === 'POST') {
        res.writeHead(401);
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ resource: `http://${req.headers.host}/mcp`, authorization_servers: [issuer()] }));
    });

  it('never sends the gateway to an authorization server on a private address other than the upstream host', async () => {
    const internalHits: string[] = [];
    // `localhost`: another name than the upstream's (127.0.0.1), resolving to loopback.
    const internal = (
      await serve((req, res) => {
        internalHits.push(req.url ?? '');
        res.writeHead(404);
        res.end();
      })
    ).replace('127.0.0.1', 'localhost');
    const upstream = await upstreamNaming(() => internal);
    await expect(discover(`${upstream}/mcp`)).rejects.toThrow(/private address/);
    expect(internalHits).toEqual([]);
  });

  it('never POSTs to a token endpoint the AS metadata puts on a private address (SSRF with chosen path)', async () => {
    const internalHits: string[] = [];
    const internal = (
      await serve((req, res) => {
        internalHits.push(`${req.method} ${req.url}`);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"error":"internal service answered"}');
      })
    ).replace('127.0.0.1', 'localhost');
    // The AS is the upstream's own host (allowed); its metadata aims the back channel inside.
    const upstream = await serve((req, res) => {
      const origin = `http://${req.headers.host}`;
      res.writeHead(req.method === 'POST' ? 401 : 200, { 'content-type': 'application/json' });
      if (req.method === 'POST') return void res.end();
      if (req.url?.startsWith('/.well-known/oauth-protected-resource'))
        return void res.end(JSON.stringify({ resource: `${origin}/mcp`, authorization_servers: [origin] }));
      res.end(
        JSON.stringify({
          issuer: origin,
          authorization_endpoint: `${origin}/authorize`,
          token_endpoint: `${internal}/admin/delete-everything`,
          code_challenge_methods_supported: ['S256'],
        }),
      );
    });
    const info = await discover(`${upstream}/mcp`);
    const client = { clientId: 'c', clientSecret: 's', authMethod: 'client_secret_basic' as const };
    await expect(
      tokenRequest(info.tokenEndpoint, client, { grant_type: 'authorization_code', code: 'x' }, info.reach),
    ).rejects.toThrow(/private address/);
    expect(internalHits).toEqual([]);
  });

  it('reaches a private authorization server the operator allowed (auth.allow_private_hosts)', async () => {
    const as = (
      await serve((req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            issuer: `http://localhost:${req.headers.host?.split(':')[1]}`,
            authorization_endpoint: `http://localhost:${req.headers.host?.split(':')[1]}/authorize`,
            token_endpoint: `http://localhost:${req.headers.host?.split(':')[1]}/token`,
            code_challenge_methods_supported: ['S256'],
          }),
        );
      })
    ).replace('127.0.0.1', 'localhost');
    const upstream = await upstreamNaming(() => as);
    const info = await discover(`${upstream}/mcp`, { allowPrivateHosts: ['localhost'] });
    expect(info.tokenEndpoint).toBe(`${as}/token`);
  });

  it("exempts the upstream's host only when the operator wrote a private address, never a DNS name", () => {
    // Whoever runs evil.example answers its DNS: the name may resolve inside at token time.
    expect(upstreamReach(new URL('https://evil.example/mcp'), []).privateHosts).toEqual([]);
    expect(upstreamReach(new URL('http://127.0.0.1:9000/mcp'), []).privateHosts).toEqual(['127.0.0.1']);
    expect(upstreamReach(new URL('http://[::1]:9000/mcp'), ['KC.internal']).privateHosts).toEqual([
      '::1',
      'kc.internal',
    ]);
  });
});

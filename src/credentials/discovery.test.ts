// Discovery against a hostile upstream: what it names in its 401 must not send Tollgate elsewhere.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { discover } from './discovery.js';

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
});

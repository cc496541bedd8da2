// Admin request bodies are capped (1 MiB) on every route, also on those that never read their body:
// over Content-Length the 413 comes before any of the body is sent; without Content-Length it comes
// once the cap is passed, while the client is still holding the rest back. A small chunked body
// still reaches the route that reads it.
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_MAX_BODY_BYTES } from '../../src/admin/body-cap.js';
import { startGateway, authYaml, type TestGateway } from '../helpers/gateway.js';
import { FEATURE_SERVER, nodeArgsYaml } from '../helpers/compiled.js';

const ADMIN = 'admin-token-body-cap-0123456789';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startGateway(`
upstreams:
  feat: { transport: stdio, command: node, args: [${nodeArgsYaml(FEATURE_SERVER)}, --stdio] }
${authYaml()}admin: { tokens: [${ADMIN}] }
`);
});
afterAll(async () => {
  await gw?.close();
});

/** A POST whose body the test writes itself; resolves with the answer (status, headers, body). */
function post(
  path: string,
  headers: Record<string, string>,
  write: (req: ClientRequest) => void,
): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${gw.url}${path}`, { method: 'POST', headers });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        req.destroy();
      });
    });
    req.on('error', reject);
    write(req);
  });
}

const bearer = { authorization: `Bearer ${ADMIN}` };

describe('admin request bodies', () => {
  it('a Content-Length over the cap is refused with 413 before any of the body is sent', async () => {
    const r = await post(
      '/admin/policies/reload',
      { ...bearer, 'content-type': 'application/json', 'content-length': String(ADMIN_MAX_BODY_BYTES + 1) },
      (req) => req.flushHeaders(), // headers only: the body is never written
    );
    expect(r.status).toBe(413);
    expect(r.headers.connection).toBe('close');
    expect(JSON.parse(r.body)).toMatchObject({
      jsonrpc: '2.0',
      id: null,
      error: { message: expect.stringMatching(/limited to 1048576 bytes/) },
    });
  });

  it('a body without Content-Length is refused with 413 once past the cap, before it ends', async () => {
    for (const headers of [bearer, {}]) {
      const r = await post('/admin/policies/reload', { ...headers, 'transfer-encoding': 'chunked' }, (req) => {
        // One byte over the cap, in chunks, and the request is never ended.
        for (let i = 0; i < 16; i++) req.write(Buffer.alloc(ADMIN_MAX_BODY_BYTES / 16, 0x61));
        req.write('a');
      });
      expect(r.status).toBe(413);
      expect(JSON.parse(r.body)).toMatchObject({ jsonrpc: '2.0', error: { message: expect.any(String) } });
    }
  });

  it('a small chunked body still reaches the route that reads it (the login form)', async () => {
    const r = await post(
      '/admin/login',
      { 'content-type': 'application/x-www-form-urlencoded', 'transfer-encoding': 'chunked' },
      (req) => {
        req.write('token=');
        req.end(ADMIN);
      },
    );
    expect(r.status).toBe(303);
    expect(r.headers['set-cookie']?.[0]).toMatch(/^tollgate_admin=/);
  });

  it('bodies within the cap pass on routes that do not read them', async () => {
    const r = await post(
      '/admin/policies/reload',
      { ...bearer, 'content-type': 'application/json', 'content-length': '2' },
      (req) => req.end('{}'),
    );
    expect(r.status).not.toBe(413);
  });
});

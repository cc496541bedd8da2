// Client ID Metadata Documents as a hostile client uses them: a document server that answers every
// URL (each a distinct, valid client) and one that never answers. What the gateway keeps and how many
// fetches it has in flight are bounded.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ClientRegistry, OAuthError } from './clients.js';
import { MemoryOAuthStore } from './store.js';

let base = '';
const held: ServerResponse[] = [];
const server = createServer((req, res) => {
  if (req.url?.startsWith('/hold/')) {
    held.push(res);
    return;
  }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ client_id: `${base}${req.url}`, redirect_uris: ['http://127.0.0.1:9/cb'] }));
});

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const res of held) res.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const registry = (store: MemoryOAuthStore, bounds: { maxCached: number; maxFetches: number }) =>
  new ClientRegistry({
    store,
    metadataDocuments: {
      enabled: true,
      allowHttp: true,
      allowPrivateHosts: ['127.0.0.1'],
      ca: undefined,
      timeoutMs: 30_000,
      maxBytes: 16_384,
      cacheTtlMs: 600_000,
      ...bounds,
    },
    maxRegistered: 10,
  });

it('caches at most maxCached documents per cache window; beyond, clients still work (fetched each time)', async () => {
  const store = new MemoryOAuthStore();
  const clients = registry(store, { maxCached: 5, maxFetches: 8 });
  for (let i = 0; i < 20; i++)
    expect((await clients.find(`${base}/c/${i}.json`)).client_id).toBe(`${base}/c/${i}.json`);
  expect((await store.list('cimd:')).length).toBe(5);
});

it('has at most maxFetches documents in flight; more are refused at once with invalid_client', async () => {
  const clients = registry(new MemoryOAuthStore(), { maxCached: 5, maxFetches: 2 });
  const pending = [0, 1, 2, 3].map((i) => clients.find(`${base}/hold/${i}.json`));
  const settled = pending.map((p) =>
    p.then(
      () => 'ok',
      (e: unknown) => e,
    ),
  );
  // Two fetches reach the server and wait there; the other two are refused without a request.
  await expect.poll(() => held.length, { timeout: 30_000 }).toBe(2);
  const [third, fourth] = await Promise.all(settled.slice(2));
  for (const e of [third, fourth]) {
    expect(e).toBeInstanceOf(OAuthError);
    expect((e as OAuthError).error).toBe('invalid_client');
  }
  for (const res of held.splice(0)) res.destroy();
  await Promise.all(settled.slice(0, 2));
  // The places are free again.
  expect((await clients.find(`${base}/c/after.json`)).client_id).toBe(`${base}/c/after.json`);
});

it('dynamic registration: bounded per address per hour, and a removed client gives its place back', async () => {
  const clients = new ClientRegistry({
    store: new MemoryOAuthStore(),
    metadataDocuments: undefined,
    maxRegistered: 3,
    maxRegisteredPerAddress: 2,
  });
  const meta = { redirect_uris: ['http://127.0.0.1:9/cb'], token_endpoint_auth_method: 'none' };
  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => e as OAuthError,
    );
  const a = await clients.register(meta, '203.0.113.1');
  await clients.register(meta, '203.0.113.1');
  expect(await refusal(clients.register(meta, '203.0.113.1'))).toMatchObject({ status: 429 });
  await clients.register(meta, '203.0.113.2');
  expect(await refusal(clients.register(meta, '203.0.113.3'))).toMatchObject({ status: 503 });
  // The operator removes a client (admin page): there is room again.
  expect(await clients.remove(String(a.client_id))).toBe(true);
  expect((await clients.register(meta, '203.0.113.3')).client_id).toBeTruthy();
});

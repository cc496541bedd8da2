import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchExporter } from './queue.js';
import { webhookEncoder } from './otlp.js';
import { waitUntil } from '../../../test/helpers/wait.js';

let server: Server;
let url = '';
let status = 204;
const bodies: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let b = '';
    req.on('data', (c: Buffer) => (b += c.toString()));
    req.on('end', () => {
      bodies.push(b);
      if (status === 302) res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end();
      else res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
afterAll(() => new Promise((r) => server.close(r)));

const target = (over = {}) => ({
  url,
  headers: {},
  batchSize: 2,
  flushMs: 10,
  queueSize: 4,
  timeoutMs: 5000,
  retryInitialMs: 5,
  retryMaxMs: 20,
  ...over,
});

describe('BatchExporter', () => {
  it('a refused batch (4xx, or a redirect) is dropped and counted, not retried', async () => {
    for (const s of [400, 302]) {
      status = s;
      bodies.length = 0;
      const e = new BatchExporter('webhook', target(), webhookEncoder, () => {});
      e.offer(['{"a":1}', '{"a":2}']);
      await waitUntil(() => e.stats.dropped === 2, 30_000);
      expect(e.stats).toMatchObject({ sent: 0, dropped: 2, failures: 0, queued: 0 });
      expect(bodies).toEqual(['{"records":[{"a":1},{"a":2}]}']);
      await e.close();
    }
  });

  it('the queue is bounded: lines past queue_size are dropped at once; close sends what is queued', async () => {
    status = 204;
    bodies.length = 0;
    const e = new BatchExporter('webhook', target({ batchSize: 100, flushMs: 60_000 }), webhookEncoder, () => {});
    e.offer(Array.from({ length: 7 }, (_, i) => `{"i":${i}}`));
    expect(e.stats).toMatchObject({ queued: 4, dropped: 3 });
    await e.close();
    expect(e.stats).toMatchObject({ sent: 4, dropped: 3, queued: 0 });
    expect(bodies).toEqual(['{"records":[{"i":0},{"i":1},{"i":2},{"i":3}]}']);
  });

  it('only the lines it accepts are queued (only_checkpoints)', async () => {
    const e = new BatchExporter(
      'webhook',
      target(),
      webhookEncoder,
      () => {},
      (l) => l.includes('checkpoint'),
    );
    e.offer(['{"x":1}', '{"tollgate.record.kind":"checkpoint"}']);
    expect(e.stats.queued).toBe(1);
    await e.close();
  });
});

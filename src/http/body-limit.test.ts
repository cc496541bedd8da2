import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { bodyLimit } from './body-limit.js';
import { readBody } from './node-io.js';

describe('bodyLimit', () => {
  const h = new Hono();
  h.use('*', bodyLimit({ maxBytes: 10 }));
  h.post('/', async (c) => c.text(await readBody(c, 10)));
  it('passes bodies within the cap', async () => {
    const r = await h.request('/', { method: 'POST', body: '0123456789', headers: { 'content-length': '10' } });
    expect(await r.text()).toBe('0123456789');
  });
  it('answers 413 with a JSON-RPC error when Content-Length is over the cap', async () => {
    const r = await h.request('/', { method: 'POST', body: '0123456789ab', headers: { 'content-length': '12' } });
    expect(r.status).toBe(413);
    expect(await r.json()).toMatchObject({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32600, message: expect.stringMatching(/Payload Too Large/) },
    });
  });
  it('rejects a bad cap when built', () => {
    expect(() => bodyLimit({ maxBytes: 0 })).toThrow();
  });
});

// Bodies read ahead by a middleware (the admin body cap, before credentials): counted up to the cap,
// but only as much kept for the route as a route may read.
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import type { Context } from 'hono';
import { describe, expect, it } from 'vitest';
import { readAhead, readBody } from './node-io.js';

/** A context whose Node request streams `body` in 1 KiB chunks. */
function withBody(body: string): Context {
  const incoming = new PassThrough();
  for (let i = 0; i < body.length; i += 1024) incoming.write(body.slice(i, i + 1024));
  incoming.end();
  return { env: { incoming: incoming as unknown as IncomingMessage } } as unknown as Context;
}

describe('readAhead', () => {
  it('hands a body within what it keeps to the route', async () => {
    const c = withBody('a'.repeat(4096));
    await readAhead(c, 1024 * 1024, 8192);
    expect(await readBody(c, 8192)).toBe('a'.repeat(4096));
  });

  it('keeps none of a body longer than it keeps (counted to the cap): the route is refused it', async () => {
    const c = withBody('a'.repeat(20 * 1024));
    await readAhead(c, 1024 * 1024, 8192);
    await expect(readBody(c, 1024 * 1024)).rejects.toMatchObject({ kind: 'payload_too_large' });
  });

  it('refuses a body over the cap', async () => {
    await expect(readAhead(withBody('a'.repeat(20 * 1024)), 16 * 1024, 8192)).rejects.toMatchObject({
      kind: 'payload_too_large',
    });
  });
});

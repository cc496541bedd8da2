// The HTTP/1.1 client reading a hostile upstream's answers: framing, reuse, limits, headers
// (test/helpers/raw-upstream.ts scripts the upstream byte for byte).
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { closeRawUpstream, newPool, ok, send, text, upstream } from '../../../test/helpers/raw-upstream.js';

afterEach(closeRawUpstream);

describe('H1Pool', () => {
  it('reuses a connection for the next request once a response is read to its end', async () => {
    const up = await upstream((_req, s, i) => s.write(ok(`{"n":${i}}`)));
    const p = newPool(up.origin);
    expect(await text(await send(p))).toBe('{"n":0}');
    expect(await text(await send(p))).toBe('{"n":1}');
    expect(up.connections()).toBe(1);
  });

  it('never reads bytes past a response as the next answer: the connection is closed instead', async () => {
    // A desynchronised (or hostile) upstream appends a second response to the first.
    const up = await upstream((_req, s, i) => s.write(i === 0 ? ok('{"real":1}') + ok('{"forged":1}') : ok('{"n":1}')));
    const p = newPool(up.origin);
    expect(await text(await send(p))).toBe('{"real":1}');
    expect(await text(await send(p))).toBe('{"n":1}');
    expect(up.connections()).toBe(2);
  });

  it('refuses a response with both Content-Length and Transfer-Encoding, and does not reuse its connection', async () => {
    const up = await upstream((_req, s, i) =>
      s.write(
        i === 0 ? 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n' : ok('{}'),
      ),
    );
    const p = newPool(up.origin);
    await expect(send(p)).rejects.toThrow(/both Transfer-Encoding and Content-Length/);
    expect(await text(await send(p))).toBe('{}');
    expect(up.connections()).toBe(2);
  });

  it('refuses a head over 16 KiB without waiting for its end', async () => {
    const up = await upstream((_req, s) => s.write(`HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(20_000)}`));
    await expect(send(newPool(up.origin))).rejects.toThrow(/head over 16384 bytes/);
  });

  it('skips an informational response and reads the final one', async () => {
    const up = await upstream((_req, s) => s.write(`HTTP/1.1 100 Continue\r\n\r\n${ok('{"final":true}')}`));
    expect(await text(await send(newPool(up.origin)))).toBe('{"final":true}');
  });

  it('reads a head that arrives a byte at a time (its blank line across four pieces)', async () => {
    const answer = ok('{"drip":1}');
    const up = await upstream((_req, s) => {
      let i = 0;
      const next = (): void => {
        if (i < answer.length) s.write(answer[i++] as string, next);
      };
      next();
    });
    expect(await text(await send(newPool(up.origin)))).toBe('{"drip":1}');
  });

  it('refuses an endless run of informational responses', async () => {
    const up = await upstream((_req, s) => s.write('HTTP/1.1 103 Early Hints\r\n\r\n'.repeat(20)));
    await expect(send(newPool(up.origin))).rejects.toThrow(/informational responses/);
  });

  it('does not reuse a connection the server said it closes (Connection: close)', async () => {
    const up = await upstream((_req, s) => s.end(ok('{}', 'connection: close\r\n')));
    const p = newPool(up.origin);
    expect(await text(await send(p))).toBe('{}');
    expect(await text(await send(p))).toBe('{}');
    expect(up.connections()).toBe(2);
  });

  it('says a body was cut short (the connection closed before its Content-Length)', async () => {
    const up = await upstream((_req, s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n{"partial":'));
    await expect(send(newPool(up.origin))).rejects.toMatchObject({ code: 'TOLLGATE_BODY_INCOMPLETE' });
  });

  it('streams a chunked body written in pieces, and a cut chunked body fails its reader', async () => {
    const events = 'data: {"a":1}\n\ndata: {"b":2}\n\n';
    const up = await upstream((_req, s, i) => {
      s.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n');
      s.write(`${events.length.toString(16)}\r\n${events.slice(0, 7)}`);
      if (i === 0) setImmediate(() => s.write(`${events.slice(7)}\r\n0\r\n\r\n`));
      else setImmediate(() => s.destroy());
    });
    const p = newPool(up.origin);
    const res = await send(p);
    expect(res.full).toBeUndefined();
    expect(await text(res)).toBe(events);
    await expect(send(p).then(text)).rejects.toMatchObject({ code: 'TOLLGATE_BODY_INCOMPLETE' });
  });

  it('reads the next answer on a connection whose last streamed body filled its reader (backpressure let go)', async () => {
    const big = 'x'.repeat(100_000);
    const up = await upstream((_req, s, i) =>
      s.write(
        i === 0
          ? `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`
          : ok('{"next":true}'),
      ),
    );
    const p = newPool(up.origin, 1);
    expect((await text(await send(p))).length).toBe(big.length);
    expect(await text(await send(p))).toBe('{"next":true}');
    expect(up.connections()).toBe(1);
  });

  it('streams a Content-Length body over fullBytes instead of gathering it', async () => {
    const big = JSON.stringify({ text: 'x'.repeat(5000) });
    const up = await upstream((_req, s) => s.write(ok(big)));
    const res = await send(newPool(up.origin), { fullBytes: 100 });
    expect(res.full).toBeUndefined();
    expect(await text(res)).toBe(big);
  });

  it('opens at most `connections` sockets and answers the queued requests in turn', async () => {
    const waiting: Socket[] = [];
    const up = await upstream((_req, s) => {
      waiting.push(s);
      if (waiting.length === 2) for (const w of waiting.splice(0)) w.write(ok('{}'));
    });
    const p = newPool(up.origin, 2);
    const answers = await Promise.all(Array.from({ length: 6 }, () => send(p).then(text)));
    expect(answers).toEqual(Array(6).fill('{}'));
    expect(up.connections()).toBe(2);
  });

  it('refuses a header value carrying CR or LF, and sends nothing', async () => {
    const up = await upstream((_req, s) => s.write(ok('{}')));
    const p = newPool(up.origin);
    await expect(send(p, { headers: { 'x-request-id': 'a\r\nx-injected: 1' } })).rejects.toMatchObject({
      code: 'TOLLGATE_INVALID_HEADER',
    });
    await expect(send(p, { headers: { 'content-length': '1' } })).rejects.toMatchObject({
      code: 'TOLLGATE_INVALID_HEADER',
    });
    expect(up.connections()).toBe(0);
  });

  it('sends a header value with obs-text bytes as they came (as undici did), the body still as UTF-8', async () => {
    // An agent's Mcp-Param-* header is passed on unchanged; Node gives its bytes as latin1 characters.
    let seen = '';
    const up = await upstream((req, s) => {
      seen = req;
      s.write(ok('{}'));
    });
    const body = '{"city":"Zürich"}';
    await send(newPool(up.origin), { extra: { 'mcp-param-city': 'Z\xfcrich' }, body });
    expect(seen).toContain('\r\nmcp-param-city: Z\xfcrich\r\n');
    expect(seen.endsWith(Buffer.from(body, 'utf8').toString('latin1'))).toBe(true);
  });

  it('does not keep a connection the server says it closes within a second', async () => {
    const up = await upstream((_req, s) => s.write(ok('{}', 'keep-alive: timeout=1\r\n')));
    const p = newPool(up.origin);
    await send(p);
    await send(p);
    expect(up.connections()).toBe(2);
  });
});

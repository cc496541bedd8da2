// The HTTP/1.1 client against a hostile upstream: a raw TCP server answering each request with the
// bytes a test scripts, counting the connections it sees.
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestAbort } from '../channel.js';
import { unreachable } from '../http-failures.js';
import { Connection, type H1Response } from './connection.js';
import { H1Pool, type H1Request } from './pool.js';

type Script = (request: string, socket: Socket, index: number) => void;

let server: Server | undefined;
let pool: H1Pool | undefined;
const sockets = new Set<Socket>();

/** A server answering with `script`; `connections` counts the sockets it accepted. */
async function upstream(script: Script): Promise<{ origin: string; connections: () => number }> {
  let accepted = 0;
  let index = 0;
  server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    let buffered = '';
    socket.on('data', (d) => {
      buffered += d.toString('latin1');
      // One request at a time: its head and a Content-Length body.
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(buffered)?.[1] ?? 0);
      if (buffered.length < end + 4 + length) return;
      const request = buffered.slice(0, end + 4 + length);
      buffered = buffered.slice(end + 4 + length);
      script(request, socket, index++);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => accepted };
}

function send(p: H1Pool, extra: Partial<H1Request> = {}): Promise<H1Response> {
  return new Promise((resolve, reject) =>
    p.request(
      {
        method: 'POST',
        path: '/mcp',
        headers: { 'content-type': 'application/json' },
        body: '{}',
        fullBytes: 1024,
        ...extra,
      },
      (err, res) => (err || !res ? reject(err) : resolve(res)),
    ),
  );
}

async function text(res: H1Response): Promise<string> {
  if (res.full) return res.full.toString('utf8');
  let out = '';
  for await (const chunk of res.body ?? []) out += (chunk as Buffer).toString('utf8');
  return out;
}

const ok = (body: string, extra = '') =>
  `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

function newPool(origin: string, connections = 4): H1Pool {
  pool = new H1Pool({ origin, connections, connectTimeoutMs: 5000, idleMs: 30_000 });
  return pool;
}

afterEach(async () => {
  await pool?.close(0);
  pool = undefined;
  for (const s of sockets) s.destroy();
  sockets.clear();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

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

  it('an aborted request fails at once, queued or in flight, and its connection is not reused', async () => {
    let arrived: () => void = () => undefined;
    const slowArrived = new Promise<void>((r) => (arrived = r));
    const up = await upstream((req, s) => {
      if (req.includes('"slow"')) arrived();
      else s.write(ok('{}'));
    });
    const p = newPool(up.origin, 1);
    const inFlight = new RequestAbort();
    const queued = new RequestAbort();
    const first = send(p, { body: '"slow"', signal: inFlight });
    const second = send(p, { body: '"slow"', signal: queued });
    queued.abort();
    await expect(second).rejects.toMatchObject({ name: 'AbortError' });
    await slowArrived;
    inFlight.abort();
    await expect(first).rejects.toMatchObject({ name: 'AbortError' });
    expect(await text(await send(p))).toBe('{}');
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

  it('an aborted request that waited in the queue closes the connection it was then sent on', async () => {
    // Queued behind the first, then sent on its connection: the abort must reach that connection, or
    // the slot stays taken by an exchange nobody waits for (and, with the cap reached, the pool stalls).
    let first: Socket | undefined;
    let arrivedFirst: () => void = () => undefined;
    let arrivedSecond: () => void = () => undefined;
    const firstArrived = new Promise<void>((r) => (arrivedFirst = r));
    const secondArrived = new Promise<void>((r) => (arrivedSecond = r));
    const up = await upstream((_req, s, i) => {
      if (i === 0) {
        first = s;
        arrivedFirst();
      } else if (i === 1) arrivedSecond();
      else s.write(ok('{"third":1}'));
    });
    const p = newPool(up.origin, 1);
    const abort = new RequestAbort();
    const one = send(p);
    const two = send(p, { signal: abort });
    await firstArrived;
    first?.write(ok('{}'));
    await one;
    await secondArrived;
    abort.abort();
    await expect(two).rejects.toMatchObject({ name: 'AbortError' });
    expect(await text(await send(p))).toBe('{"third":1}');
    expect(up.connections()).toBe(2);
  });

  it("a streamed body given up after its connection moved on does not close the next caller's exchange", async () => {
    // The whole chunked answer comes in one write: the connection is free (and taken by the next
    // request) before its reader destroys the body unread.
    let second: Socket | undefined;
    let arrived: () => void = () => undefined;
    const secondArrived = new Promise<void>((r) => (arrived = r));
    const up = await upstream((_req, s, i) => {
      if (i === 0) s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n');
      else {
        second = s;
        arrived();
      }
    });
    const p = newPool(up.origin, 1);
    const res = await send(p);
    const next = send(p);
    await secondArrived;
    res.body?.destroy();
    second?.write(ok('{"next":1}'));
    expect(await text(await next)).toBe('{"next":1}');
    expect(up.connections()).toBe(1);
  });

  it('close() fails a request still in flight when its grace ends (its caller is not left waiting)', async () => {
    let arrived: () => void = () => undefined;
    const inFlight = new Promise<void>((r) => (arrived = r));
    const up = await upstream(() => arrived());
    const p = newPool(up.origin);
    const pending = send(p);
    await inFlight;
    await p.close(0);
    await expect(pending).rejects.toMatchObject({ code: 'TOLLGATE_POOL_CLOSED' });
  });

  it('close() fails a request whose connection was still being made', async () => {
    const up = await upstream((_req, s) => s.write(ok('{}')));
    const p = newPool(up.origin);
    const pending = send(p);
    await p.close(0);
    await expect(pending).rejects.toMatchObject({ code: 'TOLLGATE_POOL_CLOSED' });
  });

  it('a failure on a connection once made is never "undelivered" (EHOSTUNREACH after the request was written)', async () => {
    // Linux reports an ICMP error met while retransmitting as EHOSTUNREACH on an established
    // connection: the request may have reached the upstream; it must not be sent again elsewhere.
    let arrived: () => void = () => undefined;
    const inFlight = new Promise<void>((r) => (arrived = r));
    const up = await upstream(() => arrived());
    const url = new URL(up.origin);
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    await new Promise((r) => socket.once('connect', r));
    const conn = new Connection(socket, () => undefined);
    const failed = new Promise<Error | undefined>((resolve) =>
      conn.send({
        text: 'POST /mcp HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}',
        fullBytes: 1024,
        done: (err) => resolve(err),
        over: () => undefined,
      }),
    );
    await inFlight;
    socket.destroy(Object.assign(new Error('read EHOSTUNREACH'), { code: 'EHOSTUNREACH' }));
    expect(unreachable(await failed).undelivered).toBe(false);
  });

  it('reports a refused connection with its code (the request was never sent)', async () => {
    const up = await upstream(() => undefined);
    await new Promise((r) => server?.close(r));
    server = undefined;
    await expect(send(newPool(up.origin))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('close() called twice: both settle once the busy connection is let go', async () => {
    let arrived: () => void = () => undefined;
    const inFlight = new Promise<void>((r) => (arrived = r));
    const up = await upstream(() => arrived());
    const p = newPool(up.origin);
    const pending = send(p).catch((err: Error) => err);
    await inFlight;
    await Promise.all([p.close(0), p.close(0)]);
    expect(await pending).toMatchObject({ code: 'TOLLGATE_POOL_CLOSED' });
  });
});

// The HTTP/1.1 client's lifecycle against a hostile upstream: aborts in every phase, close(), and
// which failures may be sent again (test/helpers/raw-upstream.ts scripts the upstream).
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestAbort } from '../channel.js';
import { unreachable } from '../http-failures.js';
import { Connection } from './connection.js';
import {
  closeRawUpstream,
  newPool,
  ok,
  send,
  stopListening,
  text,
  upstream,
} from '../../../test/helpers/raw-upstream.js';

afterEach(closeRawUpstream);

describe('H1Pool lifecycle', () => {
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
    await stopListening();
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

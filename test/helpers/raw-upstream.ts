// A hostile upstream for the HTTP/1.1 client's tests (src/upstream/h1/): a raw TCP server answering
// each request with the bytes a test scripts, counting the connections it sees, and the client's
// side (a pool, a request, its text). Call `closeRawUpstream` after each test.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { H1Response } from '../../src/upstream/h1/connection.js';
import { H1Pool, type H1Request } from '../../src/upstream/h1/pool.js';

export type Script = (request: string, socket: Socket, index: number) => void;

let server: Server | undefined;
let pool: H1Pool | undefined;
const sockets = new Set<Socket>();

/** A server answering with `script`; `connections` counts the sockets it accepted. */
export async function upstream(script: Script): Promise<{ origin: string; connections: () => number }> {
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

export function send(p: H1Pool, extra: Partial<H1Request> = {}): Promise<H1Response> {
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

export async function text(res: H1Response): Promise<string> {
  if (res.full) return res.full.toString('utf8');
  let out = '';
  for await (const chunk of res.body ?? []) out += (chunk as Buffer).toString('utf8');
  return out;
}

export const ok = (body: string, extra = '') =>
  `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

export function newPool(origin: string, connections = 4): H1Pool {
  pool = new H1Pool({ origin, connections, connectTimeoutMs: 5000, idleMs: 30_000 });
  return pool;
}

/** The server stops accepting connections (a refused connection next). */
export async function stopListening(): Promise<void> {
  await new Promise((r) => server?.close(r));
  server = undefined;
}

export async function closeRawUpstream(): Promise<void> {
  await pool?.close(0);
  pool = undefined;
  for (const s of sockets) s.destroy();
  sockets.clear();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
}

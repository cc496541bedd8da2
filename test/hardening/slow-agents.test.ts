// Hardening: slow agents (slow-loris against the gateway). A client that opens a connection and
// then sends its headers or body a byte at a time, or never, must be cut off in bounded time, and
// many of them must not slow down the other agents.
//
// Node's HTTP server bounds this only loosely by default: headersTimeout 60 s and requestTimeout
// 300 s, checked every 30 s (connectionsCheckingInterval), so a stalled request lives up to 90 s
// (headers) or 330 s (body). The gateway's bounds are `server.headers_timeout` (10 s) and
// `server.request_timeout` (30 s), checked every second; this file sets them to 3 s and 10 s so the
// suite does not wait out the defaults, and asserts every variant is cut off within 10 s (+5 s slack).
// src/config/load.test.ts checks the defaults.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { authYaml, startGateway, TEST_KEY, type TestGateway } from '../helpers/gateway.js';
import { connect as connectClient } from '../helpers/client.js';
import { nodeArgsYaml } from '../helpers/compiled.js';

const BOUND_MS = 10_000;
let gw: TestGateway;
let port: number;

beforeAll(async () => {
  gw = await startGateway(`
server: { headers_timeout: 3s, request_timeout: ${BOUND_MS}ms }
upstreams:
  featio: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio] }
${authYaml()}`);
  port = Number(new URL(gw.url).port);
});
afterAll(() => gw?.close());

interface Stalled {
  socket: Socket;
  /** Resolves when the gateway closes the connection: after how long, and what it said. */
  closed: Promise<{ ms: number; said: string }>;
}

/** Opens a connection, writes `first`, then optionally one byte of `trickle` per second. */
function stall(first: string, trickle?: string): Stalled {
  const socket = connect(port, '127.0.0.1');
  const t0 = Date.now();
  let said = '';
  let timer: NodeJS.Timeout | undefined;
  socket.on('data', (d) => (said += d.toString('latin1')));
  socket.on('error', () => undefined);
  socket.once('connect', () => {
    if (first) socket.write(first);
    if (trickle) timer = setInterval(() => socket.write(trickle), 1000);
  });
  const closed = new Promise<{ ms: number; said: string }>((resolve) =>
    socket.once('close', () => {
      clearInterval(timer);
      resolve({ ms: Date.now() - t0, said });
    }),
  );
  return { socket, closed };
}

const head = (extra: string) => `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}`;
const authed = `Authorization: Bearer ${TEST_KEY}\r\nContent-Type: application/json\r\nAccept: application/json\r\n`;

describe('slow agents (slow-loris against the gateway)', () => {
  it('an unauthenticated client that never sends its body is answered 401 and dropped at once', async () => {
    const s = stall(head('Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"js'));
    const r = await Promise.race([s.closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
    s.socket.destroy();
    expect(r?.said).toMatch(/^HTTP\/1\.1 401/);
    expect(r!.ms).toBeLessThan(5000);
  });

  it(
    `every stalled variant is cut off within ${BOUND_MS / 1000} s, and 300 of them do not slow the other agents`,
    async () => {
      const variants: Record<string, Stalled> = {
        'connects and sends nothing': stall(''),
        'headers never finish': stall(head('X-A: ')),
        'headers trickle a byte a second': stall(head('X-A: '), 'a'),
        'authenticated, body never sent': stall(head(`${authed}Content-Length: 100\r\n\r\n{"js`)),
        'authenticated, body trickles a byte a second': stall(head(`${authed}Content-Length: 100000\r\n\r\n`), ' '),
        'authenticated, chunked body never ends': stall(
          head(`${authed}Transfer-Encoding: chunked\r\n\r\n5\r\n{"jso\r\n`),
        ),
      };
      // A crowd of stalled bodies: the gateway must keep serving everyone else meanwhile.
      const crowd = Array.from({ length: 300 }, () => stall(head(`${authed}Content-Length: 100\r\n\r\n{`)));
      await new Promise((r) => setTimeout(r, 500));
      const client: Client = await connectClient(`${gw.url}/mcp`);
      const latencies: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        await client.callTool({ name: 'featio__echo', arguments: { text: `c${i}` } });
        latencies.push(performance.now() - t0);
      }
      await client.close();
      // Served while the crowd was held, not after it was cut off (no latency threshold: a loaded
      // machine is slow for everyone; what matters is that nobody waits for the stalled ones).
      const heldDuringCalls = (
        await Promise.all(crowd.map((s) => Promise.race([s.closed.then(() => 'closed'), Promise.resolve('open')])))
      ).filter((r) => r === 'open').length;
      expect(heldDuringCalls).toBe(300);
      latencies.sort((a, b) => a - b);
      console.log(
        `[hardening] tools/call p50 ${latencies[10]!.toFixed(1)} ms, max ${latencies[19]!.toFixed(1)} ms with 306 stalled connections open`,
      );
      expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);

      const deadline = new Promise<'open'>((r) => setTimeout(() => r('open'), BOUND_MS + 5000));
      const results = await Promise.all(
        Object.entries(variants).map(async ([name, s]) => [name, await Promise.race([s.closed, deadline])] as const),
      );
      const crowdOpen = (
        await Promise.all(crowd.map((s) => Promise.race([s.closed, Promise.resolve('open' as const)])))
      ).filter((r) => r === 'open').length;
      for (const s of [...Object.values(variants), ...crowd]) s.socket.destroy();
      const lines = results.map(([name, r]) =>
        r === 'open'
          ? `${name}: still open after ${(BOUND_MS + 5000) / 1000} s`
          : `${name}: closed after ${(r.ms / 1000).toFixed(1)} s (${r.said.split('\r\n')[0] || 'no answer'})`,
      );
      console.log(`[hardening] slow-loris:\n  ${lines.join('\n  ')}\n  crowd: ${crowdOpen} of 300 still open`);
      const open = results.filter(([, r]) => r === 'open').map(([name]) => name);
      expect(open, `stalled connections not cut off within ${BOUND_MS / 1000} s:\n${lines.join('\n')}`).toEqual([]);
    },
    BOUND_MS + 30_000,
  );
});

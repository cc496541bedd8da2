// Hardening: file descriptors. A gateway out of descriptors (ulimit -n) must keep running: a stdio
// upstream that cannot be restarted is an upstream error (retried with backoff), a failed accept
// loses one connection, and connections it has answered with an error are closed even when the
// client never reads (half-open sockets would hold descriptors for ever).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { authYaml, startGateway, TEST_KEY, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { waitUntil } from '../helpers/wait.js';
import { nodeArgs, nodeArgsYaml } from '../helpers/compiled.js';

const LINE_SERVER = resolve('test/fixtures/line-server.ts');
const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

interface CliGateway {
  child: ChildProcess;
  port: number;
  /** Everything it printed (stdout and stderr). */
  output: () => string;
}

/** `tollgate serve` in a shell with `ulimit -n <fds>`. */
async function cliGateway(configYaml: string, fds: number): Promise<CliGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-fds-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'tollgate.yaml'), `${configYaml}audit: { file: ${join(dir, 'audit.jsonl')} }\n`);
  const child = spawn(
    'bash',
    [
      '-c',
      `ulimit -n ${fds}; exec "$@"`,
      'bash',
      process.execPath,
      // The run's compiled copy (compiled.ts): the repository's bin would compile src/ through tsx.
      ...nodeArgs('bin/tollgate.mjs'),
      'serve',
      '--config',
      join(dir, 'tollgate.yaml'),
      '--port',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  cleanup.push(
    () =>
      new Promise<void>((r) => {
        if (child.exitCode !== null || child.signalCode !== null) return r();
        child.once('exit', () => r());
        child.kill('SIGTERM');
      }),
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  await waitUntil(() => /listening on http:\/\/[^:]+:\d+/i.test(out) || child.exitCode !== null, 90_000);
  const port = Number(/listening on http:\/\/[^:]+:(\d+)/i.exec(out)?.[1]);
  expect(port, out).toBeGreaterThan(0);
  return { child, port, output: () => out };
}

/** The direct children of a process (Linux). */
function childrenOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
    readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number),
  );
}

/**
 * An SSE stream held open (legacy `GET /sse`): a descriptor the gateway keeps by design, so the
 * pressure lasts as long as the test wants. Resolves once the gateway answered or dropped it.
 */
function holdStream(port: number): Promise<{ socket: Socket; accepted: boolean }> {
  return new Promise((done) => {
    const socket = netConnect(port, '127.0.0.1');
    let settled = false;
    const settle = (accepted: boolean) => {
      if (settled) return;
      settled = true;
      done({ socket, accepted });
    };
    socket.on('error', () => settle(false));
    socket.on('close', () => settle(false));
    socket.on('data', (d: Buffer) => settle(d.toString('latin1').startsWith('HTTP/1.1 200')));
    socket.once('connect', () =>
      socket.write(
        `GET /sse HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TEST_KEY}\r\nAccept: text/event-stream\r\n\r\n`,
      ),
    );
  });
}

describe('out of file descriptors', () => {
  it('a stdio upstream restart failing with EMFILE is an upstream error, never a gateway exit; it comes back with the descriptors', async () => {
    const gw = await cliGateway(
      `upstreams:\n  lines: { transport: stdio, command: ${process.execPath}, args: [${nodeArgsYaml(LINE_SERVER)}], cwd: ${resolve('.')}, timeouts: { connect: 60s } }\n` +
        `pins: { enabled: false }\n${authYaml()}`,
      256,
    );
    const pid = gw.child.pid as number;
    const client: Client = await connect(`http://127.0.0.1:${gw.port}/mcp`);
    cleanup.push(() => client.close().catch(() => undefined));
    const first = (await client.callTool({ name: 'lines__echo', arguments: { text: 'a' } })) as CallToolResult;
    expect((first.content[0] as { text: string }).text).toMatch(/^pid \d+: a$/);
    // In flight on a connection opened before the descriptors run out: its answer needs no new one.
    const inFlight = client.callTool({ name: 'lines__hang', arguments: {} }, undefined, { timeout: 120_000 }).then(
      () => ({ code: 0, message: 'answered' }),
      (err: { code?: number; message: string }) => ({ code: err.code, message: err.message }),
    );
    const [upstreamPid] = childrenOf(pid);
    expect(upstreamPid).toBeGreaterThan(0);

    // 400 streams against a limit of 256: the gateway takes what it can, the rest are refused.
    const flood = await Promise.all(Array.from({ length: 400 }, () => holdStream(gw.port)));
    cleanup.push(() => flood.forEach((f) => f.socket.destroy()));
    const held = flood.filter((f) => f.accepted).length;
    console.log(
      `[hardening] ${held} of 400 streams held; the gateway has ${readdirSync(`/proc/${pid}/fd`).length} descriptors open`,
    );
    expect(held, 'the gateway ran out of descriptors').toBeLessThan(400);

    // The upstream dies; its restart cannot get the pipes it needs.
    process.kill(upstreamPid as number, 'SIGKILL');
    const failed = await inFlight;
    expect(failed.code, failed.message).toBe(-32050);
    const restartFailed = /^.*EMFILE.*upstream connect failed.*$/m;
    await waitUntil(() => restartFailed.test(gw.output()) || gw.child.exitCode !== null, 30_000);
    console.log(`[hardening] ${restartFailed.exec(gw.output())?.[0] ?? 'no restart failure logged'}`);
    expect(gw.child.exitCode, gw.output().slice(-2000)).toBeNull();

    // Descriptors back: the gateway answers, and the upstream is restarted by its backoff.
    for (const f of flood) f.socket.destroy();
    expect((await fetch(`http://127.0.0.1:${gw.port}/healthz`)).status).toBe(200);
    let back = '';
    await waitUntil(async () => {
      const r = (await client.callTool({ name: 'lines__echo', arguments: { text: 'b' } }).catch(() => undefined)) as
        | CallToolResult
        | undefined;
      back = (r?.content[0] as { text: string } | undefined)?.text ?? '';
      return back !== '';
    }, 60_000);
    expect(back).toMatch(/^pid \d+: b$/);
    expect(back).not.toBe(`pid ${upstreamPid}: b`);
    expect(gw.child.exitCode).toBeNull();
  }, 120_000);
});

describe('connections answered with an error', () => {
  it('are closed by the gateway even when the client never reads (400 at once, 408 after the header timeout)', async () => {
    const gw: TestGateway = await startGateway(
      `server: { headers_timeout: 2s, request_timeout: 4s }\nupstreams:\n  lines: { transport: stdio, command: ${process.execPath}, args: [${nodeArgsYaml(LINE_SERVER)}], cwd: ${resolve('.')}, timeouts: { connect: 60s } }\n${authYaml()}`,
    );
    cleanup.push(() => gw.close());
    const server = (gw.gw as unknown as { server: Server }).server;
    const open = () => new Promise<number>((r) => server.getConnections((_e, n) => r(n)));
    const port = Number(new URL(gw.url).port);
    const sockets: Socket[] = [];
    cleanup.push(() => sockets.forEach((s) => s.destroy()));
    for (let i = 0; i < 10; i++) {
      for (const first of ['GET / HTTP/1.1\r\nBad Header\r\n\r\n', 'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n']) {
        const s = netConnect(port, '127.0.0.1');
        s.on('error', () => undefined);
        s.once('connect', () => {
          s.write(first);
          s.pause(); // never reads: never sees the answer, never closes its side
        });
        sockets.push(s);
      }
    }
    await waitUntil(async () => (await open()) === 20, 10_000);
    await waitUntil(async () => (await open()) === 0, 30_000);
    expect(await open()).toBe(0);
  }, 60_000);
});

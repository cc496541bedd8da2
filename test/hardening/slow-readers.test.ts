// Hardening: agents that read their SSE streams slowly or not at all, while an upstream floods.
// The gateway must hold at most `server.sse_max_queued_bytes` per stream beyond what the socket
// took: log and progress notifications past that are dropped (counted), anything else closes the
// stream (the calls on it end with -32030, a resume shows it), and other agents keep working.
// The slow agents are raw sockets that stop reading (socket.pause()): the kernel buffers fill, then
// the gateway's own queue would grow without bound.
import { connect as netConnect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { authYaml, startGateway, TEST_KEY, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { waitUntil } from '../helpers/wait.js';
import { openRawSession, rawHeaders } from '../helpers/raw-session.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import type { AgentSession } from '../../src/mcp/agent-session.js';
import type { EventStream } from '../../src/mcp/event-stream.js';

const BOUND = 1024 * 1024;
/** A flood far past what loopback socket buffers hold (a few MiB each way). */
const FLOOD = { n: 600, size: 64 * 1024 };
const hostile = `{ transport: stdio, command: ${process.execPath}, args: [${nodeArgsYaml('test/fixtures/hostile-server.ts')}], cwd: ${process.cwd()}, timeouts: { connect: 60s, request: 60s } }`;

let gw: TestGateway;
let port: number;
let honest: Client;

beforeAll(async () => {
  gw = await startGateway(`
server: { sse_max_queued_bytes: ${BOUND} }
upstreams:
  evil: ${hostile}
${authYaml()}`);
  port = Number(new URL(gw.url).port);
  await waitUntil(() => gw.gw.upstreams.every((u) => u.state === 'ready' && u.catalog.tools.length > 0), 90_000);
  honest = await connect(`${gw.url}/mcp`);
  // The honest agent does not want the flood's info lines (the gateway filters them for it).
  await honest.setLoggingLevel('error');
}, 120_000);
afterAll(async () => {
  await honest?.close().catch(() => undefined);
  await gw?.close();
});

const headers = rawHeaders(TEST_KEY);

/** A 2025-11-25 session opened over plain fetch; its id. */
const openSession = (capabilities: Record<string, unknown> = {}): Promise<string> =>
  openRawSession(`${gw.url}/mcp`, TEST_KEY, capabilities, 'slow');

interface Stalled {
  socket: Socket;
  /** Reads everything the gateway sent, until it closes the connection. */
  drain(): Promise<string>;
}

/** Sends one HTTP request and reads none of the answer. */
function stalled(request: string): Stalled {
  const socket = netConnect(port, '127.0.0.1');
  socket.pause();
  socket.on('error', () => undefined);
  socket.write(request);
  const got: Buffer[] = [];
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  return {
    socket,
    drain: async () => {
      socket.on('data', (d: Buffer) => got.push(d));
      socket.resume();
      await closed;
      return Buffer.concat(got).toString('utf8');
    },
  };
}

const held = (id: string): AgentSession => gw.gw.sessions.held(id) as AgentSession;
const metric = async (name: string): Promise<number> => {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
};
const echo = async (text: string) =>
  ((await honest.callTool({ name: 'evil__echo', arguments: { text } })) as { content: { text: string }[] }).content[0]
    ?.text;

describe('an agent that stops reading its GET stream while an upstream floods log lines', () => {
  it('its stream holds at most the bound, the log lines past it are dropped and counted, others keep working', async () => {
    const id = await openSession();
    const slow = stalled(
      `GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TEST_KEY}\r\nAccept: text/event-stream\r\nMcp-Session-Id: ${id}\r\nMCP-Protocol-Version: 2025-11-25\r\n\r\n`,
    );
    // A legacy SSE agent that never reads either.
    const legacy = stalled(
      `GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TEST_KEY}\r\nAccept: text/event-stream\r\n\r\n`,
    );
    await waitUntil(() => held(id).hasStandaloneListener, 10_000);
    await waitUntil(() => [...gw.gw.sessions.all()].some((s) => s.protocolVersion === '2024-11-05'), 10_000);
    const legacySession = [...gw.gw.sessions.all()].find((s) => s.protocolVersion === '2024-11-05') as AgentSession;
    const droppedBefore = await metric('tollgate_sse_events_dropped_total');

    // The flood comes after the answer: no call in flight, so it goes to every session's stream.
    await honest.callTool({ name: 'evil__flood', arguments: { ...FLOOD, after: true } });
    const streams = [held(id), legacySession].map((s) => s.standaloneStream() as EventStream);
    // Every line of the flood has reached each stream: queued, kept, or dropped.
    await waitUntil(() => streams.every((s) => s.events + s.dropped >= FLOOD.n), 60_000);
    expect(await echo('still here')).toBe('echo: still here');

    const frame = FLOOD.size + 512; // one event of the flood, framed
    for (const stream of streams) {
      expect(stream.attached).toBe(true); // log lines never close a stream
      expect(stream.queuedBytes).toBeLessThanOrEqual(BOUND + frame);
      expect(stream.buffered.chars).toBeLessThanOrEqual(BOUND + frame);
      expect(stream.dropped).toBeGreaterThan(0);
    }
    expect(await metric('tollgate_sse_events_dropped_total')).toBeGreaterThan(droppedBefore);
    slow.socket.destroy();
    legacy.socket.destroy();
  }, 120_000);
});

describe('an agent that stops reading its POST stream', () => {
  it('a sampling request that does not fit closes the stream; the call ends with -32030, seen on resume', async () => {
    const id = await openSession({ sampling: {} });
    const overflowsBefore = await metric('tollgate_sse_streams_overflowed_total');
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: {
        name: 'evil__flood',
        arguments: { ...FLOOD, ask: true, big: 2 * BOUND },
        _meta: { progressToken: 'p7' },
      },
    });
    const slow = stalled(
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TEST_KEY}\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nMcp-Session-Id: ${id}\r\nMCP-Protocol-Version: 2025-11-25\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // The gateway cuts the stream when the sampling request (never dropped) cannot be queued.
    await waitUntil(() => [...held(id).streams.values()].some((s) => s.overflows > 0), 60_000);
    const seen = await slow.drain();
    expect(seen).not.toContain('"id":7'); // the connection ended before any answer
    const primed = /id: (\S+)_1\n/.exec(seen);
    expect(primed).not.toBeNull();
    // The agent resumes the stream: its call's end is there, with a clear error.
    const resumed = await fetch(`${gw.url}/mcp`, {
      headers: { ...headers, accept: 'text/event-stream', 'mcp-session-id': id, 'last-event-id': `${primed![1]}_1` },
    });
    const replay = await resumed.text();
    const answer = replay
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)) as { id?: number; error?: { code: number; message: string } })
      .find((m) => m.id === 7);
    expect(answer?.error?.code).toBe(-32030);
    expect(answer?.error?.message).toMatch(/fell more than 1048576 bytes behind/);
    expect(held(id).serverRequests.size).toBe(0); // the upstream's question was answered with an error
    expect(await metric('tollgate_sse_streams_overflowed_total')).toBeGreaterThan(overflowsBefore);
    // Another agent was never held up.
    expect(await echo('after')).toBe('echo: after');
  }, 120_000);
});

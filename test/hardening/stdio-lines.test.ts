// Hardening: a stdio upstream writing a line over its max_response_bytes. The line is cut as it
// arrives (never collected whole, never split in quadratic time): the call it answers fails at once
// with -32052 naming the cap, the process is not restarted, its next call works, and other agents'
// calls are answered meanwhile.
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { authYaml, startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { waitUntil } from '../helpers/wait.js';
import { nodeArgsYaml } from '../helpers/compiled.js';

const LINES = `{ transport: stdio, command: ${process.execPath}, args: [${nodeArgsYaml('test/fixtures/line-server.ts')}], cwd: ${resolve('.')}, timeouts: { connect: 60s, request: 60s } }`;
let gw: TestGateway;
let agent: Client;
let other: Client;

beforeAll(async () => {
  gw = await startGateway(`
upstreams:
  lines: ${LINES}
  small: ${LINES.replace(/ }$/, ', max_response_bytes: 1048576 }')}
  bystander: ${LINES}
${authYaml()}`);
  // On a loaded machine three tsx-started servers may take a while: wait until all are up.
  await waitUntil(() => gw.gw.upstreams.every((u) => u.state === 'ready'), 90_000);
  [agent, other] = await Promise.all([connect(`${gw.url}/mcp`), connect(`${gw.url}/mcp`)]);
}, 120_000);
afterAll(async () => {
  await agent?.close();
  await other?.close();
  await gw?.close();
});

interface Outcome {
  ok: boolean;
  code?: number;
  message: string;
}
async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<Outcome> {
  try {
    const r = (await client.callTool({ name, arguments: args }, undefined, { timeout: 120_000 })) as CallToolResult;
    return { ok: true, message: (r.content[0] as { text: string }).text };
  } catch (err) {
    const e = err as { code?: number; message: string };
    return { ok: false, code: e.code, message: e.message };
  }
}
const pidOf = (o: Outcome) => /^pid (\d+):/.exec(o.message)?.[1];

describe('a stdio line over max_response_bytes', () => {
  it('40 MiB against the 32 MiB default: the call fails with -32052 naming the cap, the same process answers the next call', async () => {
    const before = await call(agent, 'lines__echo', { text: 'before' });
    const big = call(agent, 'lines__big_line', { mb: 40 });
    // Another agent, another upstream, while the line streams.
    const meanwhile = await call(other, 'bystander__echo', { text: 'meanwhile' });
    const o = await big;
    console.log(`[hardening] 40 MiB stdio line: ${o.ok ? 'ok' : `error ${o.code}`} — ${o.message.slice(0, 160)}`);
    expect(meanwhile.message).toMatch(/^pid \d+: meanwhile$/);
    expect(o.ok).toBe(false);
    expect(o.code).toBe(-32052);
    expect(o.message).toMatch(/exceeds 33554432 bytes \(upstreams\.lines\.max_response_bytes\)/);
    const after = await call(agent, 'lines__echo', { text: 'after' });
    expect(after.message).toMatch(/: after$/);
    expect(pidOf(after), 'the upstream process was not restarted').toBe(pidOf(before));
  }, 120_000);

  it('an id written after the result still names the call (1 MiB cap, 3 MiB line); the next call works', async () => {
    const before = await call(agent, 'small__echo', { text: 'x' });
    const o = await call(agent, 'small__big_line', { mb: 3, id_last: true });
    expect(o.code).toBe(-32052);
    expect(o.message).toMatch(/exceeds 1048576 bytes \(upstreams\.small\.max_response_bytes\)/);
    const after = await call(agent, 'small__echo', { text: 'y' });
    expect(after.message).toBe(`pid ${pidOf(before)}: y`);
  }, 60_000);

  it('1 GiB: the call fails when the cap is crossed, other agents are served meanwhile, the next call is answered', async () => {
    const before = await call(agent, 'small__echo', { text: 'x' });
    const big = call(agent, 'small__big_line', { mb: 1024 });
    const o = await big;
    expect(o.code).toBe(-32052);
    expect(o.message).toMatch(/exceeds 1048576 bytes/);
    // The rest of the line is still arriving and being skipped: others are answered meanwhile.
    const meanwhile = await call(other, 'bystander__echo', { text: 'meanwhile' });
    expect(meanwhile.message).toMatch(/: meanwhile$/);
    const after = await call(agent, 'small__echo', { text: 'y' });
    expect(after.message).toBe(`pid ${pidOf(before)}: y`);
  }, 120_000);
});

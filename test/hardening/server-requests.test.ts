// Hardening: server-to-client requests (sampling, elicitation, roots) an upstream sends through the
// gateway to an agent that never answers. Each is remembered until answered so the answer can go
// back; those memories are bounded per session (`mcp.server_requests.max_per_session`, default 64)
// and expire (`mcp.server_requests.timeout`, default 10m), and the upstream is told with an error
// for every one it will not get an answer to, also when the agent's session ends.
import { afterAll, describe, expect, it } from 'vitest';
import { authYaml, startGateway, TEST_KEY, type TestGateway } from '../helpers/gateway.js';
import { waitUntil } from '../helpers/wait.js';
import { openRawSession, rawHeaders } from '../helpers/raw-session.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import type { AgentSession } from '../../src/mcp/agent-session.js';

const hostile = `{ transport: stdio, command: ${process.execPath}, args: [${nodeArgsYaml('test/fixtures/hostile-server.ts')}], cwd: ${process.cwd()}, timeouts: { connect: 60s, request: 30s } }`;
const gateways: TestGateway[] = [];
afterAll(async () => {
  for (const g of gateways) await g.close();
});

async function gateway(extra = ''): Promise<TestGateway> {
  const gw = await startGateway(`
${extra}
upstreams:
  evil: ${hostile}
${authYaml()}`);
  gateways.push(gw);
  await waitUntil(() => gw.gw.upstreams.every((u) => u.state === 'ready' && u.catalog.tools.length > 0), 90_000);
  return gw;
}

const headers = rawHeaders(TEST_KEY);

/** An agent that declares sampling and never answers what it is asked: raw HTTP. */
async function silentAgent(
  gw: TestGateway,
): Promise<{ id: string; call(name: string, args: object): Promise<string> }> {
  const id = await openRawSession(`${gw.url}/mcp`, TEST_KEY, { sampling: {} }, 'mute');
  let n = 1;
  const call = async (name: string, args: object): Promise<string> => {
    const res = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: { ...headers, 'mcp-session-id': id },
      body: JSON.stringify({ jsonrpc: '2.0', id: n++, method: 'tools/call', params: { name, arguments: args } }),
    });
    return res.text(); // JSON, or the whole SSE stream (the requests, then the answer)
  };
  return { id, call };
}

const answers = async (agent: { call(name: string, args: object): Promise<string> }): Promise<number[]> => {
  const body = await agent.call('evil__answers', {});
  const m = /"text":"(\[[^\]]*\])"/.exec(body);
  return JSON.parse(m![1]!) as number[];
};

describe('server requests an agent never answers', () => {
  it('at most 64 wait per session, the rest refused; those waiting are ended with the session', async () => {
    const gw = await gateway();
    const agent = await silentAgent(gw);
    const stream = await agent.call('evil__ask_many', { n: 100 });
    expect(stream.match(/"method":"sampling\/createMessage"/g)?.length).toBe(64);
    const session = gw.gw.sessions.held(agent.id) as AgentSession;
    expect(session.serverRequests.size).toBe(64);
    const got = await answers(agent);
    expect(got).toEqual(Array(36).fill(-32030));
    // The agent ends its session: the upstream hears that none of the 64 will be answered.
    await fetch(`${gw.url}/mcp`, { method: 'DELETE', headers: { ...headers, 'mcp-session-id': agent.id } });
    const next = await silentAgent(gw);
    expect(await answers(next)).toEqual([...Array(36).fill(-32030), ...Array(64).fill(-32800)]);
  }, 120_000);

  it('they expire after mcp.server_requests.timeout, answered with a timeout error', async () => {
    const gw = await gateway('mcp: { server_requests: { timeout: 1s } }');
    const agent = await silentAgent(gw);
    await agent.call('evil__ask_many', { n: 5 });
    const session = gw.gw.sessions.held(agent.id) as AgentSession;
    await waitUntil(() => session.serverRequests.size === 0, 30_000);
    expect(await answers(agent)).toEqual(Array(5).fill(-32001));
  }, 120_000);
});

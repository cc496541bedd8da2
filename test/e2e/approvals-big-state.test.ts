// An approved 2026 call whose upstream then asks for input with a large requestState (a server that
// keeps its whole flow in the state): the gateway carries that state inside its own, so the agent's
// retry reaches the upstream with the state intact, up to the documented bound; a larger one is
// refused with a clear error at once instead of a retry that cannot work.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBigStateServer, type BigStateServer } from '../fixtures/big-state-server.js';
import { authYaml, startGateway, TEST_KEY, type TestGateway } from '../helpers/gateway.js';
import { modernHeaders } from '../helpers/raw-session.js';
import { tempDir } from '../helpers/tmp.js';
import { MAX_CARRIED_STATE_CHARS } from '../../src/approvals/state.js';

let big: BigStateServer;
let huge: BigStateServer;
let gw: TestGateway;

beforeAll(async () => {
  big = await startBigStateServer({ stateChars: 50_000 });
  huge = await startBigStateServer({ stateChars: MAX_CARRIED_STATE_CHARS + 1 });
  const policies = tempDir('tollgate-approvals-big-state-');
  writeFileSync(
    join(policies, 'tester.yaml'),
    `agent: tester
tools: { allow: ["*"] }
approvals:
  - { tool: "*__confirm", ask: user, timeout: 5m }
`,
  );
  gw = await startGateway(`
upstreams:
  big: { transport: streamable_http, url: "${big.url}" }
  huge: { transport: streamable_http, url: "${huge.url}" }
policies: { dir: "${policies}", watch: false }
pins: { enabled: false }
${authYaml()}`);
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await big?.close();
  await huge?.close();
});

/** What the gateway answers a 2026 agent's call (the parts read here). */
interface Answer {
  result: { resultType?: string; requestState: string; content: { text: string }[] };
  error?: { code: number; message: string };
}

/** A 2026 agent's tools/call, by hand. */
const call = (tool: string, params: Record<string, unknown>) =>
  fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: modernHeaders(TEST_KEY, 'tools/call', tool),
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: {
        name: tool,
        ...params,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
        },
      },
    }),
  }).then((r) => r.json() as Promise<Answer>);

/** Asks for approval, says yes: the gateway's answer once the approved call reached the upstream. */
async function approve(tool: string, args: Record<string, unknown>): Promise<Answer> {
  const asked = await call(tool, { arguments: args });
  expect(asked.result).toMatchObject({
    resultType: 'input_required',
    inputRequests: { tollgate_approval: { method: 'elicitation/create' } },
  });
  return call(tool, {
    arguments: args,
    requestState: asked.result.requestState,
    inputResponses: { tollgate_approval: { action: 'accept' } },
  });
}

describe('approved 2026 call, upstream asks with a large requestState', () => {
  it('a 50 KB upstream state travels inside ours and reaches the upstream intact on the retry', async () => {
    const args = { text: 'transfer' };
    const upstreamAsks = await approve('big__confirm', args);
    expect(upstreamAsks.result).toMatchObject({
      resultType: 'input_required',
      inputRequests: { confirm: { method: 'elicitation/create' } },
    });
    expect(upstreamAsks.result.requestState.length).toBeGreaterThan(50_000);
    const done = await call('big__confirm', {
      arguments: args,
      requestState: upstreamAsks.result.requestState,
      inputResponses: { confirm: { action: 'accept', content: { ok: true } } },
    });
    expect(done.error).toBeUndefined();
    expect(done.result.content[0]?.text).toBe('confirmed transfer (state of 50000 chars intact)');
  });

  it('an upstream state beyond the bound is a clear error at once, not a retry that cannot work', async () => {
    const res = await approve('huge__confirm', { text: 'transfer' });
    expect(res.error).toMatchObject({
      code: -32052,
      message: expect.stringContaining(`at most ${MAX_CARRIED_STATE_CHARS}`),
    });
  });
});

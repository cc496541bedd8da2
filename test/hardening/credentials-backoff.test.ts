// One user whose upstream account the upstream refuses (a suspended account, a missing scope: 403 to
// their own token) must not hold back everybody else's upstream sessions: the back-off that keeps a
// crashing upstream from being restarted in a tight loop is about the upstream, not one user.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect } from '../helpers/client.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startOAuthUpstream, type OAuthUpstream } from '../helpers/oauth-upstream.js';
import { acctUpstreamYaml, staticConnection, vaultWith } from '../helpers/oauth-upstream-config.js';
import { waitUntil } from '../helpers/wait.js';

const KEYS = { mallory: 'mallory-key-0123456789', bob: 'bob-key-0123456789' };
let up: OAuthUpstream;
let gw: TestGateway;
let mallory: Client;
let bob: Client;

const call = (c: Client): Promise<string> =>
  c.callTool({ name: 'acct__whoami', arguments: {} }).then(
    (r) => (r.content as { text: string }[])[0]?.text ?? '',
    (e: Error) => e.message,
  );

beforeAll(async () => {
  up = await startOAuthUpstream();
  const credentials = await vaultWith({
    mallory: staticConnection(up, 'mallory'),
    bob: staticConnection(up, 'bob'),
  });
  up.forbidden.add('mallory');
  gw = await startGateway(`
auth:
  api_keys:
${Object.entries(KEYS)
  .map(([a, k]) => `    - { agent: ${a}, key: ${k} }`)
  .join('\n')}
${credentials}upstreams:
${acctUpstreamYaml(up, 'per_agent')}`);
  [mallory, bob] = await Promise.all([
    connect(`${gw.url}/mcp`, { key: KEYS.mallory }),
    connect(`${gw.url}/mcp`, { key: KEYS.bob }),
  ]);
});

afterAll(async () => {
  await Promise.all([mallory?.close(), bob?.close()]);
  await gw?.close();
  await up?.close();
});

it("a user the upstream refuses gets the refusal; other users' sessions open as usual", async () => {
  // Mallory calls again and again: each call that reaches the upstream opens her session, refused.
  // (Before, each refusal doubled a back-off for the whole upstream: 0.5, 1, 2, 4, then 8 s.)
  let refusals = 0;
  await waitUntil(async () => {
    const said = await call(mallory);
    expect(said).not.toContain('sub=');
    if (!/retrying in/.test(said)) refusals++;
    return refusals >= 5;
  }, 60_000);
  // Bob has no upstream session yet: his first call opens one.
  expect(await call(bob)).toBe('sub=bob');
});

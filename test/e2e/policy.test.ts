// Per-agent policies through the gateway: what each agent sees, what it may call, hot reload.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect, nextNotification } from '../helpers/client.js';
import { hashApiKey } from '../../src/auth/api-keys.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import { tempDir } from '../helpers/tmp.js';

const textOf = (r: unknown): string => ((r as CallToolResult).content[0] as { text: string }).text;
const ALICE = 'tg_alice-key-0123456789abcdef';
const BOB = 'tg_bob-key-0123456789abcdef';
const dir = tempDir('tollgate-policies-');
const write = (name: string, text: string) => writeFileSync(join(dir, name), text);

const alicePolicy = (extraDeny = '') => `
agent: alice
groups: [readers]
identities:
  api_key_hashes: ["${hashApiKey(ALICE)}"]
tools:
  allow: ["feat__*"]
  deny: ["feat__crash"${extraDeny}]
constraints:
  - tool: feat__echo
    when: 'args.text.startsWith("ok")'
    message: alice may only echo text starting with "ok"
`;

let gw: TestGateway;
let alice: Client;
let bob: Client;

beforeAll(async () => {
  write('alice.yaml', alicePolicy());
  write('readers.yaml', `group: readers\nresources:\n  allow: ["feat+mem://*"]\n`);
  write(
    'bob.yaml',
    `agent: bob\nidentities:\n  api_key_hashes: ["${hashApiKey(BOB)}"]\ntools:\n  allow: ["feat__slow", "feat__last_*"]\n`,
  );
  gw = await startGateway(`
upstreams:
  feat: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio] }
policies: { dir: ${dir}, watch: true }
`);
  alice = await connect(`${gw.url}/mcp`, { key: ALICE });
  bob = await connect(`${gw.url}/mcp`, { key: BOB });
});
afterAll(async () => {
  await alice?.close();
  await bob?.close();
  await gw?.close();
});

const tools = async (c: Client) => (await c.listTools()).tools.map((t) => t.name).sort();

describe('policies', () => {
  it('shows two agents different tools from the same upstream; deny wins over allow', async () => {
    const a = await tools(alice);
    expect(a).toContain('feat__echo');
    expect(a).not.toContain('feat__crash'); // allowed by feat__*, denied by name
    expect(await tools(bob)).toEqual(['feat__last_cancelled', 'feat__slow']);
  });

  it('refuses a call the list does not show, naming the reason', async () => {
    await expect(bob.callTool({ name: 'feat__echo', arguments: { text: 'ok' } })).rejects.toThrow(
      /-32041.*access denied: tool feat__echo is not allowed for agent bob/,
    );
    await expect(alice.callTool({ name: 'feat__crash', arguments: {} })).rejects.toThrow(/access denied/);
  });

  it('applies argument constraints (CEL): one call allowed, another denied', async () => {
    expect(textOf(await alice.callTool({ name: 'feat__echo', arguments: { text: 'ok then' } }))).toBe('feat:ok then');
    await expect(alice.callTool({ name: 'feat__echo', arguments: { text: 'rm -rf' } })).rejects.toThrow(
      /alice may only echo text starting with "ok"/,
    );
    await expect(alice.callTool({ name: 'feat__echo', arguments: {} })).rejects.toThrow(/access denied/); // missing argument fails closed
  });

  it('gives groups’ rules to their members and filters resources', async () => {
    expect((await alice.listResources()).resources.map((r) => r.uri)).toEqual(['feat+mem://a']);
    expect((await bob.listResources()).resources).toEqual([]);
    await expect(bob.readResource({ uri: 'feat+mem://a' })).rejects.toThrow(/access denied: resource feat\+mem:\/\/a/);
  });

  it('rejects an unknown key', async () => {
    await expect(connect(`${gw.url}/mcp`, { key: 'tg_nobody-0123456789abcdef' })).rejects.toThrow(/401|invalid/i);
  });

  it('hot-reloads: a live agent’s view changes and it is told; a broken file leaves the old policy', async () => {
    const changed = nextNotification(alice, 'notifications/tools/list_changed');
    write('alice.yaml', alicePolicy(', "feat__echo"'));
    await changed;
    expect(await tools(alice)).not.toContain('feat__echo');
    await expect(alice.callTool({ name: 'feat__echo', arguments: { text: 'ok' } })).rejects.toThrow(/access denied/);
    const before = gw.gw.policies.current();
    write('bob.yaml', 'agent: bob\ntools:\n  allow: [unterminated\n');
    expect(gw.gw.policies.reload('test').ok).toBe(false);
    expect(gw.gw.policies.current()).toBe(before);
    expect(await tools(bob)).toEqual(['feat__last_cancelled', 'feat__slow']);
  });
});

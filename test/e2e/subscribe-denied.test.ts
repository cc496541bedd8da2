// A resource subscription the policy refuses is not recorded on the agent's session: the agent must
// not hear of updates to a resource it may not read (nor have it shared with the other instances).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect, nextNotification } from '../helpers/client.js';
import { hashApiKey } from '../../src/auth/api-keys.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import { tempDir } from '../helpers/tmp.js';

const ALICE = 'tg_alice-key-0123456789abcdef';
const BOB = 'tg_bob-key-0123456789abcdef';
const dir = tempDir('tollgate-subscribe-denied-');
const write = (name: string, text: string) => writeFileSync(join(dir, name), text);
const bobPolicy = (tools: string[]) =>
  `agent: bob\nidentities:\n  api_key_hashes: ["${hashApiKey(BOB)}"]\ntools:\n  allow: ${JSON.stringify(tools)}\n`;

let gw: TestGateway;
let alice: Client;
let bob: Client;
/** Every notification bob's client receives, in order. */
const heard: string[] = [];

/** Changes bob's tools and waits for the list_changed on his GET stream: what came before it has arrived. */
async function barrier(tools: string[]): Promise<void> {
  const changed = new Promise<void>((resolve) => {
    bob.fallbackNotificationHandler = async (n) => {
      heard.push(n.method);
      if (n.method === 'notifications/tools/list_changed') resolve();
    };
  });
  write('bob.yaml', bobPolicy(tools));
  await changed;
}

beforeAll(async () => {
  write(
    'alice.yaml',
    `agent: alice\nidentities:\n  api_key_hashes: ["${hashApiKey(ALICE)}"]\ntools:\n  allow: ["feat__*"]\nresources:\n  allow: ["feat+mem://*"]\n`,
  );
  write('bob.yaml', bobPolicy(['feat__touch']));
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

describe('a refused resources/subscribe', () => {
  it('brings the agent no updates of that resource', async () => {
    await barrier(['feat__touch', 'feat__echo']); // bob's GET stream is open
    await expect(bob.subscribeResource({ uri: 'feat+mem://a' })).rejects.toThrow(/access denied/);
    await alice.subscribeResource({ uri: 'feat+mem://a' });
    const updated = nextNotification(alice, 'notifications/resources/updated');
    await alice.callTool({ name: 'feat__touch', arguments: {} });
    expect((await updated).params).toMatchObject({ uri: 'feat+mem://a' });
    await barrier(['feat__touch']); // anything sent to bob before now has reached him
    expect(heard).not.toContain('notifications/resources/updated');
  });
});

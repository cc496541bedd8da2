// `logging/setLevel` on an upstream session several agents share: the level there is every agent's,
// so one agent (here one that may use nothing of the upstream) must not silence the others' logs.
// The fixture logs as SDK servers do (`sendLoggingMessage`, dropped below the session's level).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import { tempDir } from '../helpers/tmp.js';
import { connect } from '../helpers/client.js';

const KEYS = { alice: 'alice-key-0123456789', bob: 'bob-key-0123456789' };
let gw: TestGateway;

beforeAll(async () => {
  const dir = tempDir('tollgate-shared-log-level-');
  writeFileSync(join(dir, 'alice.yaml'), 'agent: alice\ntools: { allow: ["other__*"] }\n');
  writeFileSync(join(dir, 'bob.yaml'), 'agent: bob\ntools: { allow: ["lv__*"] }\n');
  gw = await startGateway(`
upstreams:
  lv: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/level-server.ts')}] }
auth: { api_keys: [{ agent: alice, key: ${KEYS.alice} }, { agent: bob, key: ${KEYS.bob} }] }
policies: { dir: ${dir} }
`);
});
afterAll(() => gw?.close());

describe('log levels on a shared upstream session', () => {
  it("one agent's logging/setLevel does not change what the others receive", async () => {
    const bob = await connect(`${gw.url}/mcp`, { key: KEYS.bob });
    const lines: string[] = [];
    bob.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void lines.push(String(n.params.data)));
    await bob.setLoggingLevel('info');
    await bob.callTool({ name: 'lv__log', arguments: {} });
    expect(lines).toEqual(['info line']);

    const alice = await connect(`${gw.url}/mcp`, { key: KEYS.alice });
    await alice.setLoggingLevel('emergency');
    await bob.callTool({ name: 'lv__log', arguments: {} });
    expect(lines).toEqual(['info line', 'info line']);
    await alice.close();
    await bob.close();
  });
});

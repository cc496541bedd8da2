// The official MCP conformance suite, run against our fixture directly and through the gateway's
// per-server endpoint: the gateway must pass exactly as many checks as the fixture does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConformanceServer, type ConformanceServerHandle } from '../fixtures/conformance-server.js';
import { runConformance } from '../conformance/run.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { nodeArgsYaml } from '../helpers/compiled.js';

let fixture: ConformanceServerHandle;
let gw: TestGateway;
let directRun: ReturnType<typeof runConformance>;

beforeAll(async () => {
  fixture = await startConformanceServer(0);
  gw = await startGateway(`
upstreams:
  conf:
    transport: streamable_http
    url: ${fixture.url}
  confio:
    transport: stdio
    command: node
    args: [${nodeArgsYaml('test/fixtures/conformance-server.ts')}, --stdio]
    isolation: per_session
auth:
  allow_anonymous: true
`);
  directRun = runConformance(fixture.url);
});
afterAll(async () => {
  await gw?.close();
  await fixture?.close();
});

describe('conformance suite (active) through the gateway', () => {
  it('passes the same checks through /mcp/conf as against the fixture directly', async () => {
    const direct = await directRun;
    const through = await runConformance(`${gw.url}/mcp/conf`);
    console.log(
      `conformance: direct ${direct.passed}/${direct.total} passed; through gateway ${through.passed}/${through.total} passed`,
    );
    expect(direct.failures).toEqual([]);
    expect(through.failures).toEqual([]);
    expect(through.passed).toBe(direct.passed);
  }, 240_000);

  it('passes the same checks through a stdio upstream with one upstream session per agent session', async () => {
    const direct = await directRun;
    const through = await runConformance(`${gw.url}/mcp/confio`);
    console.log(
      `conformance (stdio, per_session): direct ${direct.passed}/${direct.total}; through gateway ${through.passed}/${through.total}`,
    );
    expect(through.failures).toEqual([]);
    expect(through.passed).toBe(direct.passed);
  }, 240_000);
});

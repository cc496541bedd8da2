// An unknown tool's name (or resource URI) is the agent's own text, up to the body cap: the error and
// the audit record quote its start and its length, not the whole of it.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { authYaml, startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { nodeArgsYaml } from '../helpers/compiled.js';

let gw: TestGateway & { auditFile: string };
let agent: Client;

beforeAll(async () => {
  gw = await startGateway(`
upstreams:
  feat: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio] }
${authYaml()}`);
  agent = await connect(`${gw.url}/mcp`);
});
afterAll(async () => {
  await agent?.close();
  await gw?.close();
});

const failure = (p: Promise<unknown>) =>
  p.then(
    () => 'no error',
    (e: Error) => e.message,
  );

/** The audit record of the last call to `method` (written before its answer was released). */
function lastRecord(method: string): { line: string; rec: Record<string, unknown> } {
  const lines = readFileSync(gw.auditFile, 'utf8').trim().split('\n');
  const line = lines.reverse().find((l) => (JSON.parse(l) as Record<string, unknown>)['mcp.method.name'] === method);
  if (!line) throw new Error(`no ${method} record`);
  return { line, rec: JSON.parse(line) as Record<string, unknown> };
}

describe('names of megabytes', () => {
  it('an unknown tool is quoted by its start and length in the error and the audit record', async () => {
    const name = `feat__${'x'.repeat(300_000)}`;
    const message = await failure(agent.callTool({ name, arguments: {} }));
    expect(message).toContain(`Unknown tool: feat__xxx`);
    expect(message).toContain('… (300006 characters)');
    expect(message.length).toBeLessThan(3_000);
    const { line, rec } = lastRecord('tools/call');
    expect(rec['tollgate.decision']).not.toBe('allowed');
    expect(String(rec['gen_ai.tool.name'])).toMatch(/^feat__x{2042}… \(300006 characters\)$/);
    expect(line.length).toBeLessThan(10_000);
  });

  it('so is an unknown resource URI', async () => {
    const uri = `nosuch://${'y'.repeat(300_000)}`; // no server's prefix
    const message = await failure(agent.readResource({ uri }));
    expect(message).toContain('… (300009 characters)');
    expect(message.length).toBeLessThan(3_000);
    const { line, rec } = lastRecord('resources/read');
    expect(String(rec['mcp.resource.uri'])).toContain('… (300009 characters)');
    expect(line.length).toBeLessThan(10_000);
  });
});

// The audit record names the agent session by a short reference, not by its (sealed, long) id.
import { readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { authYaml, startGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import type { AuditLine } from '../../src/audit/record.js';
import { nodeArgsYaml } from '../helpers/compiled.js';

let gw: Awaited<ReturnType<typeof startGateway>>;
let client: Client;

beforeAll(async () => {
  gw = await startGateway(`
upstreams:
  feat: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio] }
${authYaml()}`);
  client = await connect(`${gw.url}/mcp`);
}, 30_000);
afterAll(async () => {
  await client?.close();
  await gw?.close();
  if (gw) for (const f of [gw.auditFile, gw.pinsFile]) rmSync(dirname(f), { recursive: true, force: true });
});

describe('audit session reference', () => {
  it('is the first 16 hex of SHA-256 of the session id, the same on every record of the session', async () => {
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId!;
    expect(sessionId.length).toBeGreaterThan(100); // sealed
    await client.callTool({ name: 'feat__echo', arguments: { text: 'a' } });
    await client.callTool({ name: 'feat__echo', arguments: { text: 'b' } });
    const calls = readFileSync(gw.auditFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditLine)
      .filter((r) => r['mcp.method.name'] === 'tools/call');
    expect(calls).toHaveLength(2);
    const ref = createHash('sha256').update(sessionId).digest('hex').slice(0, 16);
    for (const r of calls) expect(r['mcp.session.id']).toBe(ref);
    expect(readFileSync(gw.auditFile, 'utf8')).not.toContain(sessionId);
  });
});

// Outside clients as the agent, one gateway for both:
// - the MCP Inspector CLI (@modelcontextprotocol/inspector-cli, the one that runs on Node 20): lists
//   and calls through the gateway, and gets the gateway's errors as an operator would;
// - mcp-remote, the stdio-to-HTTP bridge stdio-only clients (Claude Desktop) use, started the way such
//   a client starts it (a child process speaking MCP on stdin/stdout) by the SDK's stdio client.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';

const MCP_REMOTE = resolve('node_modules/mcp-remote/dist/proxy.js');
const CLI = resolve('node_modules/@modelcontextprotocol/inspector-cli/build/index.js');
const EVERYTHING = 'node_modules/@modelcontextprotocol/server-everything/dist/index.js';
const KEY = 'inspector-key-0123456789';
let gw: TestGateway;

/** Runs the CLI; it reads its own package.json via `../package.json` from the cwd, so run it one level down. */
function inspector(args: string[], key = KEY): Promise<{ code: number; out: string; err: string }> {
  return new Promise((done) =>
    execFile(
      process.execPath,
      [CLI, `${gw.url}/mcp`, ...args, '--header', `Authorization: Bearer ${key}`],
      { cwd: resolve('test') },
      (error, out, err) => done({ code: error ? Number(error.code ?? 1) : 0, out, err }),
    ),
  );
}

beforeAll(async () => {
  const dir = tempDir('tollgate-inspector-');
  mkdirSync(join(dir, 'policies'));
  writeFileSync(
    join(dir, 'policies', 'ops.yaml'),
    'agent: ops\ntools: { allow: ["everything__*"], deny: ["everything__get-env"] }\n',
  );
  gw = await startGateway(`
upstreams:
  everything: { transport: stdio, command: node, args: [${resolve(EVERYTHING)}, stdio] }
auth: { api_keys: [{ agent: ops, key: ${KEY} }] }
policies: { dir: ${join(dir, 'policies')} }
`);
});
afterAll(() => gw?.close());

describe('MCP Inspector CLI as the agent', () => {
  it('lists tools as the policy allows, and calls one', async () => {
    const list = await inspector(['--method', 'tools/list']);
    expect(list.code).toBe(0);
    const names = (JSON.parse(list.out) as { tools: { name: string }[] }).tools.map((t) => t.name);
    expect(names).toContain('everything__echo');
    expect(names).not.toContain('everything__get-env');
    const call = await inspector([
      '--method',
      'tools/call',
      '--tool-name',
      'everything__echo',
      '--tool-arg',
      'message=through tollgate',
    ]);
    expect(call.code).toBe(0);
    expect(JSON.parse(call.out)).toMatchObject({ content: [{ type: 'text', text: 'Echo: through tollgate' }] });
  });

  it('gets the policy refusal and a bad key as errors', async () => {
    const denied = await inspector(['--method', 'tools/call', '--tool-name', 'everything__get-env']);
    expect(denied.code).not.toBe(0);
    expect(denied.out + denied.err).toMatch(/-32041|not allowed|denied/i);
    const badKey = await inspector(['--method', 'tools/list'], 'not-a-key-0123456789');
    expect(badKey.code).not.toBe(0);
    expect(badKey.out + badKey.err).toMatch(/-32040.*unknown API key/);
  });
});

describe('mcp-remote as the bridge of a stdio-only client', () => {
  it('lists, calls, and passes the policy refusal on as the JSON-RPC error', async () => {
    const client = new Client({ name: 'desktop-like', version: '1.0.0' });
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [MCP_REMOTE, `${gw.url}/mcp`, '--allow-http', '--header', `Authorization: Bearer ${KEY}`],
      // mcp-remote keeps OAuth state under this folder (unused with a header, created anyway).
      env: { ...process.env, MCP_REMOTE_CONFIG_DIR: tempDir('tollgate-mcp-remote-') } as Record<string, string>,
      stderr: 'pipe',
    });
    await client.connect(transport);
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toContain('everything__echo');
      expect(names).not.toContain('everything__get-env');
      const echo = await client.callTool({ name: 'everything__echo', arguments: { message: 'via mcp-remote' } });
      expect(echo.content).toEqual([{ type: 'text', text: 'Echo: via mcp-remote' }]);
      await expect(client.callTool({ name: 'everything__get-env', arguments: {} })).rejects.toThrow(
        /-32041.*not allowed for agent ops/,
      );
    } finally {
      await client.close();
    }
  });
});

// Hardening: the audit log failing under a live session (disk full, I/O error). The rule "the record
// is written before the response is released" must not turn into a hang or a crash: the agent gets a
// clear JSON-RPC error promptly, the unaudited result is not released, and the process survives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authYaml, startGateway, TEST_KEY, type TestGateway } from '../helpers/gateway.js';
import { nodeArgsYaml } from '../helpers/compiled.js';

let gw: TestGateway;
const H = { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json', accept: 'application/json' };
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown): void => void unhandled.push(e);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  gw = await startGateway(`
upstreams:
  featio: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio] }
${authYaml()}`);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await gw?.close();
});

describe('audit log failures', () => {
  it('a write that fails (ENOSPC) during tools/call: a prompt JSON-RPC error, no result released, no unhandled rejection', async () => {
    const init = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: H,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
      }),
    });
    const sid = init.headers.get('mcp-session-id')!;
    // Every record goes through write() (record() builds one, then writes it): fail it there.
    const recorder = gw.gw.recorder as unknown as { write: (...a: unknown[]) => Promise<void> };
    const original = recorder.write;
    recorder.write = () =>
      Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    const t0 = Date.now();
    let answer: string;
    try {
      const r = await fetch(`${gw.url}/mcp`, {
        method: 'POST',
        headers: { ...H, 'mcp-session-id': sid },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 2,
          method: 'tools/call',
          params: { name: 'featio__echo', arguments: { text: 'unaudited' } },
        }),
        signal: AbortSignal.timeout(5000),
      });
      answer = `${r.status} ${await r.text()}`;
    } catch (err) {
      answer = `no answer after ${Date.now() - t0} ms (${(err as Error).message})`;
    } finally {
      recorder.write = original;
    }
    await new Promise((r) => setTimeout(r, 100));
    console.log(
      `[hardening] audit write failure during tools/call: ${answer.slice(0, 200)}; unhandled rejections: ${unhandled.length}`,
    );
    expect(answer).toMatch(/^\d{3} \{"jsonrpc":"2.0","id":(2|null),"error":\{"code":-32\d{3}/);
    expect(answer).not.toContain('feat:unaudited');
    expect(unhandled.map(String)).toEqual([]);
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  });
});

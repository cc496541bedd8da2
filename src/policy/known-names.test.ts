import { describe, expect, it } from 'vitest';
import { knownNames, type CatalogSource } from './known-names.js';
import { allowAllAccess } from './access.js';
import { emptyCatalog, type Catalog, type CatalogKind } from '../upstream/catalog.js';
import type { McpCall } from '../relay/scope.js';
import type { JsonRpcResponse } from '../mcp/jsonrpc.js';

function source(tools: string[], state = 'ready') {
  const src = {
    name: 'srv',
    state,
    catalog: { ...emptyCatalog(), tools: tools.map((name) => ({ name })) } as Catalog,
    refreshes: 0,
    upstreamTools: [...tools],
    release: (): void => undefined,
    async refreshCatalog(kinds: readonly CatalogKind[]) {
      expect(kinds).toEqual(['tools']);
      src.refreshes++;
      await new Promise<void>((r) => (src.release = r));
      src.catalog = { ...src.catalog, tools: src.upstreamTools.map((name) => ({ name })) };
    },
  };
  return src satisfies CatalogSource;
}

const call = (name: string): McpCall => ({
  scope: { agentId: 'a', access: allowAllAccess('a') } as McpCall['scope'],
  request: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: `srv__${name}` } },
  target: { server: 'srv', native: name, kind: 'tool', canonical: `srv__${name}`, args: {} },
});
const ok: JsonRpcResponse = { jsonrpc: '2.0', id: 1, result: {} };
const next = () => Promise.resolve(ok);

describe('knownNames', () => {
  it('passes names exactly in the catalog, refuses variants as unknown (-32602) and says so to the audit', async () => {
    const src = source(['denied']);
    const step = knownNames({ upstream: () => src, refreshIntervalMs: 60_000 });
    expect(await step(call('denied'), next)).toBe(ok);
    const c = call('DENIED');
    const pending = step(c, next);
    src.release();
    const res = await pending;
    expect(res).toMatchObject({ error: { code: -32602, message: 'Unknown tool: srv__DENIED' } });
    expect(c.decision).toMatchObject({ decision: 'denied', rule: 'not in the srv catalog' });
  });

  it('refuses while the catalog is not loaded (upstream not ready) without forwarding', async () => {
    const src = source([], 'connecting');
    const res = await knownNames({ upstream: () => src })(call('anything'), next);
    expect(res).toMatchObject({ error: { code: -32050 } });
    expect(src.refreshes).toBe(0);
  });

  it('refreshes a stale catalog once for concurrent misses, then not again within the interval', async () => {
    const src = source(['a']);
    src.upstreamTools.push('late');
    const step = knownNames({ upstream: () => src, refreshIntervalMs: 60_000 });
    const both = Promise.all([step(call('late'), next), step(call('late'), next), step(call('nope'), next)]);
    src.release();
    const [r1, r2, r3] = await both;
    expect([r1, r2]).toEqual([ok, ok]);
    expect(r3).toMatchObject({ error: { code: -32602 } });
    expect(src.refreshes).toBe(1);
    expect(await step(call('nope'), next)).toMatchObject({ error: { code: -32602 } });
    expect(src.refreshes).toBe(1);
  });
});

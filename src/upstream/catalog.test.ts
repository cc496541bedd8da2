// fetchList bounds what one upstream's catalog costs: entries kept (max_catalog_entries) and bytes
// fetched over all pages (max_catalog_bytes), so pages full of padding stop being asked for.
import { describe, expect, it } from 'vitest';
import type { JsonRpcResponse } from '../mcp/jsonrpc.js';
import { fetchList } from './catalog.js';
import type { UpstreamSession } from './session.js';

/** A session answering tools/list with `pages` pages of one tool each plus `padding` characters. */
function paddedUpstream(pages: number, padding: number): { session: UpstreamSession; asked: () => number } {
  let asked = 0;
  const session = {
    request: async (_method: string, params: Record<string, unknown> | undefined): Promise<JsonRpcResponse> => {
      asked++;
      const page = Number(params?.cursor ?? 0);
      return {
        jsonrpc: '2.0',
        id: asked,
        result: {
          tools: [{ name: `t${page}`, description: 'x'.repeat(padding), inputSchema: { type: 'object' } }],
          ...(page + 1 < pages ? { nextCursor: String(page + 1) } : {}),
        },
      };
    },
  } as unknown as UpstreamSession;
  return { session, asked: () => asked };
}

describe('fetchList byte cap', () => {
  it('stops asking for pages once the bytes fetched pass max_catalog_bytes, and says it was cut', async () => {
    const up = paddedUpstream(100, 100_000);
    const got = await fetchList(up.session, 'tools', 1000, 5000, 250_000);
    expect(up.asked()).toBe(3); // 3 × ~100 kB passes 250 kB: the other 97 pages are never asked for
    expect(got.entries.map((e) => e.name)).toEqual(['t0', 't1']); // the third would not fit
    expect(got).toMatchObject({ truncated: true, cutBy: 'bytes' });
  });

  it('counts what a page carries besides its entries', async () => {
    let asked = 0;
    const session = {
      request: async (_m: string, params: Record<string, unknown> | undefined): Promise<JsonRpcResponse> => {
        asked++;
        const page = Number(params?.cursor ?? 0);
        return {
          jsonrpc: '2.0',
          id: asked,
          result: { tools: [], junk: 'x'.repeat(100_000), nextCursor: String(page + 1) },
        };
      },
    } as unknown as UpstreamSession;
    const got = await fetchList(session, 'tools', 1000, 5000, 250_000);
    expect(asked).toBe(3);
    expect(got).toMatchObject({ entries: [], truncated: true });
  });

  it('keeps a whole catalog within the cap untouched', async () => {
    const up = paddedUpstream(5, 1000);
    const got = await fetchList(up.session, 'tools', 1000);
    expect(up.asked()).toBe(5);
    expect(got.entries).toHaveLength(5);
    expect(got.truncated).toBe(false);
  });
});

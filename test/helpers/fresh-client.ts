// The MCP SDK client on a fresh TCP connection per request (undici with pipelining 0 = no
// keep-alive). On a heavily loaded machine a client process can fall seconds behind, and a pooled
// idle socket is then reused just as the gateway's keep-alive timeout closes it ("other side
// closed"): a client-side race unrelated to what a load test counts. Tests that count outcomes
// exactly use this client.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { Agent, fetch as undiciFetch } from 'undici';

const noKeepAlive = new Agent({ pipelining: 0 });
const freshFetch = ((url: string | URL, init?: RequestInit) =>
  undiciFetch(url, { ...(init as object), dispatcher: noKeepAlive })) as unknown as FetchLike;

export async function connectFresh(url: string, key: string): Promise<Client> {
  const client = new Client({ name: 'test-agent', version: '1.0.0' }, { capabilities: {} });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${key}` } },
      fetch: freshFetch,
    }),
  );
  return client;
}

// The real MCP SDK client as the agent, over Streamable HTTP or legacy SSE.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { TEST_KEY } from './gateway.js';

export async function connect(
  url: string,
  opts: { key?: string; capabilities?: ClientCapabilities; legacy?: boolean } = {},
): Promise<Client> {
  const client = new Client({ name: 'test-agent', version: '1.0.0' }, { capabilities: opts.capabilities ?? {} });
  const headers = { authorization: `Bearer ${opts.key ?? TEST_KEY}` };
  const transport = opts.legacy
    ? new SSEClientTransport(new URL(url), {
        requestInit: { headers },
        eventSourceInit: {
          fetch: (u, init) =>
            fetch(u, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } }),
        },
      })
    : new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  await client.connect(transport);
  return client;
}

/** Resolves with the first notification of `method` the client receives. */
export function nextNotification(client: Client, method: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const prev = client.fallbackNotificationHandler;
    client.fallbackNotificationHandler = async (n) => {
      if (n.method === method) {
        client.fallbackNotificationHandler = prev;
        resolve(n as Record<string, unknown>);
      }
    };
  });
}

/** Every tool name, following the gateway's pagination. */
export async function listAllTools(client: Client): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    names.push(...page.tools.map((t) => t.name));
    cursor = page.nextCursor;
  } while (cursor);
  return names;
}

/**
 * A tool's first text, or `error <code>` when the call fails, followed by the link a -32042 asks the
 * user to open (credentials tests: which account answered, or where to connect one).
 */
export async function toolText(client: Client, tool: string): Promise<string> {
  try {
    const r = await client.callTool({ name: tool, arguments: {} });
    return (r.content as { text: string }[])[0]?.text ?? '';
  } catch (err) {
    const e = err as { code?: number; data?: { elicitations?: { url?: string }[] } };
    return `error ${e.code} ${e.data?.elicitations?.[0]?.url ?? ''}`.trim();
  }
}

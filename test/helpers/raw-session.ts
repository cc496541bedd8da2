// Agent requests over plain fetch (no SDK client): a 2025-11-25 session, or a 2026-07-28 request's
// headers, for tests that need an agent that misbehaves on purpose (never reads, never answers,
// sends what a real client would not).
export const rawHeaders = (key: string): Record<string, string> => ({
  authorization: `Bearer ${key}`,
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-11-25',
});

/**
 * The headers of a 2026-07-28 request sent by hand (no session; the method, and the tool or prompt
 * name, repeated in headers as that revision asks).
 */
export const modernHeaders = (key: string, method: string, name?: string): Record<string, string> => ({
  authorization: `Bearer ${key}`,
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2026-07-28',
  'mcp-method': method,
  ...(name === undefined ? {} : { 'mcp-name': name }),
});

/** Opens a session (initialize, then notifications/initialized); its id. */
export async function openRawSession(
  mcpUrl: string,
  key: string,
  capabilities: Record<string, unknown> = {},
  clientName = 'raw',
): Promise<string> {
  const headers = rawHeaders(key);
  const r = await fetch(mcpUrl, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities, clientInfo: { name: clientName, version: '1' } },
    }),
  });
  const id = r.headers.get('mcp-session-id');
  await r.text();
  if (!id) throw new Error(`initialize answered HTTP ${r.status} without a session id`);
  await fetch(mcpUrl, {
    method: 'POST',
    headers: { ...headers, 'mcp-session-id': id },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  }).then((x) => x.text());
  return id;
}

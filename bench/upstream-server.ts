/**
 * Benchmark upstream: a minimal MCP server (v1 SDK) over Streamable HTTP with JSON responses.
 *
 *   node --import tsx bench/upstream-server.ts [--port 0]   # prints "LISTENING <port>"
 *
 * Stateful: one McpServer + StreamableHTTPServerTransport per Mcp-Session-Id, `enableJsonResponse: true`
 * (POST answers are plain application/json, never SSE). One tool: `echo` ({text} → text content).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

function createMcpServer(): McpServer {
  const mcp = new McpServer({ name: 'bench-upstream', version: '1.0.0' });
  mcp.registerTool(
    'echo',
    { description: 'Echoes its input text', inputSchema: { text: z.string() } },
    async ({ text }) => ({
      content: [{ type: 'text', text }],
    }),
  );
  return mcp;
}

function sendJsonError(res: ServerResponse, status: number, code: number, message: string): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const sessions = new Map<string, { transport: StreamableHTTPServerTransport; mcp: McpServer }>();

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path !== '/mcp') return sendJsonError(res, 404, -32000, 'Not Found');
  let parsed: unknown;
  if (req.method === 'POST') {
    try {
      parsed = JSON.parse(await readBody(req));
    } catch {
      return sendJsonError(res, 400, -32700, 'Parse error: Invalid JSON');
    }
  }
  const sessionId = req.headers['mcp-session-id'];
  if (typeof sessionId === 'string') {
    const s = sessions.get(sessionId);
    if (!s) return sendJsonError(res, 404, -32001, 'Session not found');
    return s.transport.handleRequest(req, res, parsed);
  }
  if (req.method !== 'POST' || !isInitializeRequest(parsed)) {
    return sendJsonError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
  }
  const mcp = createMcpServer();
  const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    enableJsonResponse: true,
    onsessioninitialized: (id) => void sessions.set(id, { transport, mcp }),
    onsessionclosed: (id) => void sessions.delete(id),
  });
  transport.onclose = () => {
    if (transport.sessionId) sessions.delete(transport.sessionId);
  };
  await mcp.connect(transport);
  await transport.handleRequest(req, res, parsed);
}

const server = createServer((req, res) => {
  handle(req, res).catch((err: unknown) => {
    process.stderr.write(`[bench-upstream] ${err instanceof Error ? err.stack : String(err)}\n`);
    sendJsonError(res, 500, -32603, 'Internal server error');
  });
});
server.keepAliveTimeout = 60_000;

const i = process.argv.indexOf('--port');
const port = i >= 0 ? Number(process.argv[i + 1]) : 0;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${(server.address() as AddressInfo).port}\n`);
});

const stop = (): void => {
  for (const { mcp } of sessions.values()) void mcp.close();
  sessions.clear();
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

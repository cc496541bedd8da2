// Benchmark stdio upstream: the bench's `echo` MCP server (v1 SDK) over stdio, plain JavaScript
// (no transpiler: it starts fast and costs the same under every client).
//   node bench/stdio-server.mjs
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const mcp = new McpServer({ name: 'bench-stdio-upstream', version: '1.0.0' });
mcp.registerTool(
  'echo',
  { description: 'Echoes its input text', inputSchema: { text: z.string() } },
  async ({ text }) => ({
    content: [{ type: 'text', text }],
  }),
);
await mcp.connect(new StdioServerTransport());

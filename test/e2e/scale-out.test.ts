// Two gateway processes behind a round-robin front and one Redis: one agent session whose requests
// alternate between the instances lists and calls tools, gets its notifications whichever instance
// holds its GET stream, stays within one budget, and ends everywhere on DELETE.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CreateMessageRequestSchema,
  LoggingMessageNotificationSchema,
  ToolListChangedNotificationSchema,
  type CallToolResult,
  type McpError,
} from '@modelcontextprotocol/sdk/types.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { connect } from '../helpers/client.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { ensureRedis } from '../helpers/redis.js';
import { freePort, startFront, type Front } from '../helpers/front.js';
import { waitUntil } from '../helpers/wait.js';
import { tempDir } from '../helpers/tmp.js';

const KEY = 'scale-key-0123456789';
const OTHER = 'other-key-0123456789';
const BUDGET = 10;

/** tools/list on one instance directly, with a session id and a key: the HTTP status. */
const listOn = (port: number, key: string, sessionId: string): Promise<number> =>
  fetch(`http://127.0.0.1:${port}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      accept: 'application/json',
      'mcp-session-id': sessionId,
      'mcp-protocol-version': '2025-11-25',
    },
    body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
  }).then((r) => r.status);

describe('scale-out: two gateways, a round-robin front, Redis', async () => {
  const redis = await ensureRedis();
  if (!redis)
    console.warn(
      '\n\n*** REDIS NOT AVAILABLE: skipping the scale-out test (start redis-server on 127.0.0.1:6379) ***\n\n',
    );
  const spawned: Spawned[] = [];
  let front: Front | undefined;
  afterAll(async () => {
    await front?.close();
    await Promise.all(spawned.map((s) => s.kill()));
  });

  it.skipIf(!redis)(
    'serves one session from both instances, with notifications, one budget and DELETE everywhere',
    async () => {
      const root = tempDir('tollgate-scale-');
      mkdirSync(join(root, 'policies'));
      writeFileSync(
        join(root, 'policies', 'agents.yaml'),
        `agent: tester\ntools: { allow: ["*"] }\nlimits: { requests: [{ limit: ${BUDGET}, per: 1h }] }\n`,
      );
      writeFileSync(join(root, 'policies', 'other.yaml'), `agent: other\ntools: { allow: ["*"] }\n`);
      const upstream = await spawnListening(['test/fixtures/feature-server.ts', '--tag', 'up']);
      spawned.push(upstream);
      writeFileSync(
        join(root, 'tollgate.yaml'),
        `upstreams:\n  feat: { transport: streamable_http, url: "http://127.0.0.1:${upstream.port}/mcp" }\n` +
          `  own: { transport: streamable_http, url: "http://127.0.0.1:${upstream.port}/mcp", isolation: per_session }\n` +
          `auth: { api_keys: [{ agent: tester, key: ${KEY} }, { agent: other, key: ${OTHER} }] }\npolicies: { dir: policies }\n` +
          `limits: { store: redis, redis: { url: "redis://127.0.0.1:6379", prefix: "tgtest-${randomBytes(4).toString('hex')}:" } }\n` +
          `sessions: { seal_keys: ["${randomBytes(32).toString('base64')}"], shared: true }\n`,
      );
      const audits = [join(root, 'a.jsonl'), join(root, 'b.jsonl')];
      const gateways = await Promise.all(
        audits.map((file) =>
          spawnListening(['src/main.ts', 'serve', '--config', join(root, 'tollgate.yaml'), '--port', '0'], {
            TOLLGATE_AUDIT_FILE: file,
          }),
        ),
      );
      spawned.push(...gateways);
      front = await startFront(
        await freePort(),
        gateways.map((g) => g.port),
      );

      const client = await connect(`${front.url}/mcp`, { key: KEY, capabilities: { sampling: {} } });
      client.setRequestHandler(CreateMessageRequestSchema, async () => ({
        role: 'assistant',
        model: 'm',
        content: { type: 'text', text: 'from the agent' },
      }));
      const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId!;
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('feat__echo');
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('feat__echo');

      // Each add_tool makes the upstream announce list_changed to the instance that relayed it;
      // consecutive calls go to different instances, so one of the two notifications must cross
      // over to whichever instance holds the agent's GET stream.
      let changed = 0;
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
      for (const name of ['extra_a', 'extra_b'])
        await client.callTool({ name: 'feat__add_tool', arguments: { text: name } });
      await waitUntil(() => changed >= 2, 10_000);

      // The upstream's sampling request reaches the agent on the call's stream (one instance); the
      // agent's answer is a new POST, which the front sends to the other instance.
      const sampled = await client.callTool({ name: 'feat__sample', arguments: { text: 'q' } });
      expect(JSON.stringify(sampled)).toContain('sampled:from the agent');

      // per_session upstream: its session was opened at initialize and sealed into the agent's id, so
      // both instances use that one upstream session (the fixture reports the session id it saw).
      const upstreamSessionSeen = async () =>
        (
          JSON.parse(
            ((await client.callTool({ name: 'own__headers', arguments: {} })) as CallToolResult).content
              .map((c) => (c as { text: string }).text)
              .join(''),
          ) as Record<string, string>
        )['mcp-session-id'];
      const seen = [await upstreamSessionSeen(), await upstreamSessionSeen()];
      expect(seen[0]).toBeTruthy();
      expect(seen[1]).toBe(seen[0]);

      // The log level set through one instance filters on both (session state travels over Redis).
      const lines: string[] = [];
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void lines.push(String(n.params.data)));
      await client.setLoggingLevel('error');
      for (let i = 0; i < 2; i++) await client.callTool({ name: 'feat__log', arguments: {} });
      expect(lines).toEqual([]);

      for (let i = 0; i < BUDGET - 7; i++)
        await client.callTool({ name: 'feat__echo', arguments: { text: `call ${i}` } });
      const over = await client
        .callTool({ name: 'feat__echo', arguments: { text: 'one too many' } })
        .catch((e: McpError) => e);
      expect((over as McpError).code).toBe(-32029);

      // Both instances served calls of this one session, and each wrote its own audit records.
      // Records name the session by a short reference: the first 16 hex of SHA-256 of its id.
      const sessionRef = createHash('sha256').update(sessionId).digest('hex').slice(0, 16);
      const callsIn = (file: string) =>
        readFileSync(file, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .filter((r) => r['mcp.session.id'] === sessionRef && r['mcp.method.name'] === 'tools/call');
      const [a, b] = audits.map(callsIn);
      expect(a!.length).toBeGreaterThan(0);
      expect(b!.length).toBeGreaterThan(0);
      expect(a!.length + b!.length).toBe(BUDGET + 1);

      // The session id is bound to its agent on every instance.
      for (const g of gateways) expect(await listOn(g.port, OTHER, sessionId)).toBe(404);

      // DELETE through one instance ends the session on both.
      await (client.transport as StreamableHTTPClientTransport).terminateSession();
      await client.close();
      for (const g of gateways) expect(await listOn(g.port, KEY, sessionId)).toBe(404);
    },
    60_000,
  );
});

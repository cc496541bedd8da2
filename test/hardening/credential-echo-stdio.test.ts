// Hardening: a stdio server that quotes the environment the operator gave it (`env:`, e.g. an API
// token) back in its errors, log lines and progress. The gateway repeats those to agents, the audit
// record, /readyz (open to anyone) and `tollgate check`: the secret must not come back with them,
// while short values ("true") are no secrets and stay readable.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { authYaml, startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import { waitUntil } from '../helpers/wait.js';

const SECRET = 'stdio-operator-secret-8d2e61b0';
/** Given on the command line: through `\${VAR}`, written in the config after a token flag, in a URL. */
const ARG_SECRET = 'arg-api-key-5c1f09aa';
const LITERAL = 'literal-token-77e3b2c4';
const DB_PASSWORD = 'db-password-91d0f6e2';
const SERVER = nodeArgsYaml('test/fixtures/env-echo-server.ts');
const upstream = (extraArgs = '') =>
  `{ transport: stdio, command: ${process.execPath}, args: [${SERVER}${extraArgs}], cwd: ${resolve('.')}, protocol: "2025", env: { UP_TOKEN: "\${STDIO_TOKEN}", DEBUG: "true" }, timeouts: { connect: 60s, request: 60s } }`;

let gw: TestGateway & { auditFile: string };
let agent: Client;

beforeAll(async () => {
  gw = await startGateway(
    `upstreams:
  works: ${upstream()}
  refuses: ${upstream(', --refuse')}
  cli: ${upstream(`, --api-key, "\${STDIO_ARG_KEY}", "--token=${LITERAL}", --db, "postgres://app:${DB_PASSWORD}@127.0.0.1/app", --verbose, --name, report-writer`)}
${authYaml()}`,
    { STDIO_TOKEN: SECRET, STDIO_ARG_KEY: ARG_SECRET },
  );
  await waitUntil(
    () =>
      gw.gw.upstreams.find((u) => u.name === 'works')?.state === 'ready' &&
      gw.gw.upstreams.find((u) => u.name === 'refuses')?.lastError !== undefined,
    90_000,
  );
  agent = await connect(`${gw.url}/mcp`);
}, 120_000);

afterAll(async () => {
  await agent?.close();
  await gw?.close();
});

describe('a stdio server quoting its env: secret', () => {
  it('a refused initialize reaches /readyz and lastError without the secret', async () => {
    const text = await (await fetch(`${gw.url}/readyz`)).text();
    expect(text).toContain('upstream refused initialize: cannot start: the token [REDACTED] was refused');
    expect(text).not.toContain(SECRET);
    const refuses = gw.gw.upstreams.find((u) => u.name === 'refuses');
    expect(refuses?.lastError).toContain('[REDACTED]'); // `tollgate check --connect` prints this
    expect(refuses?.lastError).not.toContain(SECRET);
  });

  it('a tools/call error reaches the agent and the audit log without the secret; short values stay', async () => {
    const err = await agent.callTool({ name: 'works__fail', arguments: {} }).then(
      (r) => JSON.stringify(r),
      (e: Error & { data?: unknown }) => `${e.message} ${JSON.stringify(e.data)}`,
    );
    expect(err).toContain('token [REDACTED] rejected (debug=true)');
    expect(err).toContain('"UP_TOKEN":"[REDACTED]","DEBUG":"true"');
    expect(err).not.toContain(SECRET);
    const audit = readFileSync(gw.auditFile, 'utf8');
    expect(audit).toContain('fail');
    expect(audit).not.toContain(SECRET);
  });

  it('credentials on its command line are cut from its errors; other arguments stay', async () => {
    const err = await agent.callTool({ name: 'cli__argv', arguments: {} }).then(
      (r) => JSON.stringify(r),
      (e: Error) => e.message,
    );
    expect(err).toContain('bad usage: ');
    expect(err).toContain('--api-key [REDACTED] --token=[REDACTED] --db postgres://app:[REDACTED]@127.0.0.1/app');
    expect(err).toContain('--verbose --name report-writer');
    for (const s of [ARG_SECRET, LITERAL, DB_PASSWORD]) expect(err).not.toContain(s);
    expect(readFileSync(gw.auditFile, 'utf8')).not.toContain(ARG_SECRET);
  });

  it('log lines and progress messages reach the agent without the secret', async () => {
    const logs: unknown[] = [];
    const progress: unknown[] = [];
    agent.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
    const r = await agent.callTool({ name: 'works__chatty', arguments: {} }, undefined, {
      onprogress: (p) => void progress.push(p.message),
    });
    expect(r.content).toEqual([{ type: 'text', text: 'done' }]);
    expect(logs).toEqual([{ said: 'calling out with [REDACTED]', debug: 'true' }]);
    expect(progress).toEqual(['using [REDACTED]']);
  });
});

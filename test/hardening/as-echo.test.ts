// An upstream's authorization server that quotes what it was sent in its error answer (a buggy or
// hostile AS, or a proxy before it): the user's refresh token must not travel on from there into
// the agent's error, the audit record or a trace span.
import { readFileSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect } from '../helpers/client.js';
import { startGateway } from '../helpers/gateway.js';
import { startOAuthUpstream, type OAuthUpstream } from '../helpers/oauth-upstream.js';
import { acctUpstreamYaml, vaultWith } from '../helpers/oauth-upstream-config.js';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { waitUntil } from '../helpers/wait.js';

const ALICE = 'alice-key-0123456789';
let up: OAuthUpstream;
let otlp: OtlpReceiver;
let gw: Awaited<ReturnType<typeof startGateway>>;
let alice: Client;
let refreshToken: string;

beforeAll(async () => {
  up = await startOAuthUpstream();
  otlp = await startOtlpReceiver();
  const t = up.grant('alice');
  refreshToken = t.refreshToken;
  const credentials = await vaultWith({
    alice: {
      accessToken: t.accessToken,
      refreshToken: t.refreshToken,
      expiresAt: Date.now() - 1000,
      issuer: up.origin,
      connectedAt: Date.now(),
    },
  });
  // Whatever it was sent, quoted back (the request body names the refresh token and the client).
  up.tokenAnswer = (p) => ({
    status: 503,
    body: { error: `cannot refresh ${p.get('refresh_token')} for ${p.get('client_id') ?? 'client'}` },
  });
  gw = await startGateway(`
auth:
  api_keys:
    - { agent: alice, key: ${ALICE} }
${credentials}telemetry:
  otlp: { endpoint: ${otlp.url} }
  batch: { delay: 50ms }
upstreams:
${acctUpstreamYaml(up, 'per_agent')}`);
  alice = await connect(`${gw.url}/mcp`, { key: ALICE });
});

afterAll(async () => {
  await alice?.close();
  await gw?.close();
  await up?.close();
  await otlp?.close();
});

it("an AS error quoting the user's refresh token does not carry it into the error, the audit or a span", async () => {
  const err = (await alice.callTool({ name: 'acct__whoami', arguments: {} }).then(
    () => undefined,
    (e: unknown) => e,
  )) as { code?: number; message?: string } | undefined;
  expect(up.refreshTokens).toEqual([refreshToken]);
  expect(err?.code).toBe(-32050); // the AS failed: unavailable, not a lost authorization
  expect(err?.message).not.toContain(refreshToken);
  await waitUntil(() => otlp.spans.some((s) => s.name.startsWith('tools/call')), 30_000);
  expect(JSON.stringify(otlp.spans)).not.toContain(refreshToken);
  expect(readFileSync(gw.auditFile, 'utf8')).not.toContain(refreshToken);
});

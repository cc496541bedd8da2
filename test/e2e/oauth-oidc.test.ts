// Company login: Tollgate's authorization server sends the user to a real OpenID Provider
// (oidc-provider, run as a separate process as the company IdP), verifies its id_token, and maps the
// groups claim to policy groups: the allow-list of group `eng` applies to the user's token. One
// gateway, one IdP, one browser.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';
import { chromiumAvailable, launchChromium } from '../helpers/chromium.js';
import { waitUntil } from '../helpers/wait.js';
import { authorizeUrl, pkce, register, tokenRequest } from '../helpers/oauth.js';

const SECRET = 'tollgate-idp-client-secret-0123456789';
const enabled = chromiumAvailable();
let idp: Spawned;
let gw: TestGateway;
let cb: { url: string; codes: string[]; close(): Promise<void> };

beforeAll(async () => {
  if (!enabled) return;
  const codes: string[] = [];
  const server = createServer((req, res) => {
    const code = new URL(req.url ?? '/', 'http://x').searchParams.get('code');
    if (code) codes.push(code);
    res.end('done');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cb = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`,
    codes,
    close: () => new Promise((r) => server.close(() => r())),
  };
  idp = await spawnListening(['test/fixtures/oidc-idp.ts', '--secret', SECRET]);
  const policies = join(tempDir('tollgate-oidc-'), 'policies');
  mkdirSync(policies);
  writeFileSync(join(policies, 'eng.yaml'), 'group: eng\ntools: { allow: ["feat__echo"] }\n');
  writeFileSync(join(policies, 'ops.yaml'), 'agent: ops\ntools: { allow: ["*"] }\n');
  gw = await startGateway(`
upstreams:
  feat: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio] }
auth:
  oauth:
    enabled: true
    oidc:
      issuer: http://127.0.0.1:${idp.port}
      client_id: tollgate
      client_secret: ${SECRET}
      name: Example Corp
      scopes: [openid, groups]
policies: { dir: ${policies}, watch: false }
`);
});
afterAll(async () => {
  await gw?.close();
  await idp?.kill();
  await cb?.close();
});

it.skipIf(!enabled)('a user logs in through the company IdP; its groups claim selects the policy group', async () => {
  const browser = await launchChromium();
  try {
    const reg = await register(gw.url, {
      client_name: 'oidc test',
      redirect_uris: [cb.url],
      token_endpoint_auth_method: 'none',
    });
    const clientId = reg.body.client_id as string;
    const { verifier, challenge } = pkce();
    const page = await browser.context.newPage();
    await page.goto(authorizeUrl(gw.url, { clientId, redirectUri: cb.url, challenge, resource: `${gw.url}/mcp` }));
    expect(await page.textContent('#oidc')).toContain('Example Corp');
    await page.click('#oidc');
    // oidc-provider's own login page (any password), then its consent page.
    await page.waitForSelector('input[name=login]');
    expect(page.url()).toContain(`127.0.0.1:${idp.port}`);
    await page.fill('input[name=login]', 'carol');
    await page.fill('input[name=password]', 'any-password');
    await page.click('button[type=submit]');
    // Its consent step (when it asks), then Tollgate's consent page.
    await page.waitForSelector('#allow, button[type=submit]');
    if (!(await page.$('#allow'))) {
      await page.click('button[type=submit]');
      await page.waitForSelector('#allow');
    }
    expect(await page.textContent('#user')).toBe('carol');
    await page.click('#allow');
    await waitUntil(() => cb.codes.length > 0, 30_000);
    const t = await tokenRequest(gw.url, {
      grant_type: 'authorization_code',
      code: cb.codes[0] ?? '',
      code_verifier: verifier,
      client_id: clientId,
      redirect_uri: cb.url,
    });
    expect(t.status).toBe(200);
    const client = new Client({ name: 'oidc-user', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${t.body.access_token as string}` } },
      }),
    );
    // user:carol, groups [eng] from the IdP's claim: eng's allow-list (echo only) applies.
    expect((await client.listTools()).tools.map((x) => x.name)).toEqual(['feat__echo']);
    await client.close();
  } finally {
    await browser.close();
  }
});

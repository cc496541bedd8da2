import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../config/load.js';
import { challengeParams } from './discovery.js';
import { browserHash, mintLink, openLink, openState, sealState } from './links.js';
import { VaultKeys } from './vault.js';
import { Credentials, credentialsStep } from './credentials.js';
import pino from 'pino';
import type { AgentIdentity } from '../auth/identity.js';
import { GatewayError } from '../errors.js';
import type { McpCall } from '../relay/scope.js';
import type { JsonRpcResponse } from '../mcp/jsonrpc.js';

const KEY = `k1:${randomBytes(32).toString('base64')}`;

const problems = (text: string): string[] => {
  try {
    parseConfigText(text, '/etc/tollgate.yaml', {});
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
};

const config = (upstream: string, credentials = `credentials: { vault: { keys: ["${KEY}"] } }`) => `
auth: { api_keys: [{ agent: a, key: a-key-0123456789 }] }
${credentials}
upstreams:
  gh: ${upstream}
`;

describe('upstream credentials config', () => {
  it('refuses per-user credentials on a shared upstream session (calls would cross users)', () => {
    expect(
      problems(config('{ transport: streamable_http, url: "https://x.example/mcp", auth: { kind: oauth } }')).join(),
    ).toMatch(/isolation per_agent or per_session/);
  });

  it('refuses oauth without a vault key, and on stdio', () => {
    expect(
      problems(
        config(
          '{ transport: streamable_http, url: "https://x.example/mcp", isolation: per_agent, auth: { kind: oauth } }',
          '',
        ),
      ).join(),
    ).toMatch(/vault key/);
    expect(
      problems(config('{ transport: stdio, command: node, isolation: per_agent, auth: { kind: oauth } }')).join(),
    ).toMatch(/streamable_http/);
  });

  it('accepts per-agent secrets on stdio and turns them into runtime form', () => {
    const { config: c } = parseConfigText(
      config(
        '{ transport: stdio, command: node, isolation: per_agent, auth: { kind: per_agent, agents: { a: { env: { TOKEN: t } } } } }',
      ),
      '/etc/tollgate.yaml',
      {},
    );
    const auth = c.upstreams[0]?.auth;
    expect(auth?.kind === 'per_agent' && auth.agents.a?.env).toEqual({ TOKEN: 't' });
    expect(c.credentials.vault.keys[0]?.id).toBe('k1');
    expect(c.credentials.vault.file).toBe('/etc/tollgate-vault.json');
  });
});

describe('links and state', () => {
  const keys = new VaultKeys([{ id: 'k1', key: randomBytes(32).toString('base64') }]);

  it('opens a link for its purpose only, and not once expired', () => {
    const url = mintLink(keys, 'http://gw', { a: 'alice', u: 'gh', e: Date.now() + 60_000, p: 'connect' });
    const t = new URL(url).searchParams.get('t') ?? '';
    expect(openLink(keys, t, 'connect')).toMatchObject({ a: 'alice', u: 'gh', p: 'connect' });
    expect(openLink(keys, t, 'manage')).toBe('invalid');
    const old = new URL(mintLink(keys, 'http://gw', { a: 'alice', u: 'gh', e: Date.now() - 1, p: 'connect' }));
    expect(openLink(keys, old.searchParams.get('t') ?? '', 'connect')).toBe('expired');
    // A link is no state, and a state is no link.
    expect(openState(keys, t)).toBe('invalid');
    const s = sealState(keys, {
      a: 'alice',
      u: 'gh',
      v: 'verifier',
      b: browserHash('c'),
      n: 'n1',
      e: Date.now() + 1000,
      i: 'https://as',
    });
    expect(openLink(keys, s, 'connect')).toBe('invalid');
    expect(openState(keys, s)).toMatchObject({ a: 'alice', b: browserHash('c') });
  });

  it("reads a Bearer challenge's parameters, quoted or not", () => {
    expect(
      challengeParams(
        'Bearer error="invalid_token", resource_metadata="https://x.example/.well-known/oauth-protected-resource/mcp", scope=notes',
      ),
    ).toEqual({
      error: 'invalid_token',
      resource_metadata: 'https://x.example/.well-known/oauth-protected-resource/mcp',
      scope: 'notes',
    });
    expect(challengeParams('Basic realm="x"')).toEqual({});
    expect(challengeParams(null)).toEqual({});
  });
});

describe('credentialsStep', () => {
  // Only what the step touches: the upstream has per-user credentials and this user has none.
  const missing = {
    forUpstream: () => true,
    check: async () => {
      throw new GatewayError('authorization_required', 'connect your account first', { url: 'https://link' });
    },
    awaitCompletion: () => {},
  } as unknown as Credentials;
  const callFor = (allowed: boolean) =>
    ({
      request: { jsonrpc: '2.0', id: 1, method: 'tools/call' },
      target: { server: 'notes', native: 'read', kind: 'tool', canonical: 'notes__read', args: {} },
      scope: {
        identity: { id: 'eve' },
        capabilities: {},
        access: { decide: () => ({ allowed, rule: 'r', reason: 'x' }) },
      },
    }) as unknown as McpCall;
  const after = (): Promise<JsonRpcResponse> => Promise.resolve({ jsonrpc: '2.0', id: 1, result: { passed: true } });

  it('asks a user the policy allows to connect their account (-32042)', async () => {
    const res = await credentialsStep(missing)(callFor(true), after);
    expect(res).toMatchObject({ error: { code: -32042 } });
  });

  it('never offers a link for an upstream the policy refuses: the policy steps answer that call', async () => {
    expect(await credentialsStep(missing)(callFor(false), after)).toMatchObject({ result: { passed: true } });
  });
});

describe('per_agent secrets by group', () => {
  it("a group's secret goes with the group: a later token without the groups claim no longer has it", async () => {
    const { config: c } = parseConfigText(
      config(
        '{ transport: streamable_http, url: "https://x.example/mcp", isolation: per_agent, auth: { kind: per_agent, groups: { payments: { headers: { authorization: "Bearer team" } } } } }',
      ),
      '/etc/tollgate.yaml',
      {},
    );
    const creds = new Credentials(c, {
      log: pino({ level: 'silent' }),
      baseUrl: () => 'http://gw',
      policyGroups: () => [],
    });
    const token = (claims: Record<string, unknown>): AgentIdentity => ({
      id: 'eve',
      method: 'jwt',
      scopes: [],
      claims,
    });
    await creds.check('gh', token({ groups: ['payments'] }));
    // She left the group: her IdP now issues tokens without the claim (many omit an empty one).
    await expect(creds.check('gh', token({}))).rejects.toThrow(/no credential for agent eve/);
    await expect(creds.forUpstream('gh')?.channelAuth('eve')?.headers()).rejects.toThrow(/no credential/);
    await creds.close();
  });
});

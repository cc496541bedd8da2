import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from './load.js';
import { renderJsonSchema, renderPolicyJsonSchema } from './json-schema.js';

const minimal = (extra = '') => `
upstreams:
  fs: { transport: stdio, command: node }
auth:
  api_keys:
    - agent: a
      key: \${KEY:-default-key-123}
${extra}`;

const problems = (text: string, env: Record<string, string> = {}): string[] => {
  try {
    parseConfigText(text, '/etc/tollgate.yaml', env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
};

describe('config loading', () => {
  it('interpolates ${VAR} and ${VAR:-default}, typing whole-value placeholders', () => {
    const { config, warnings } = parseConfigText(minimal('server:\n  port: ${PORT:-9000}'), '/etc/tollgate.yaml', {});
    expect(config.server.port).toBe(9000);
    expect(config.auth.apiKeys[0]?.key).toBe('default-key-123');
    expect(warnings.join()).toMatch(/KEY is not set/);
    const set = parseConfigText(minimal('server:\n  port: ${PORT:-9000}'), '/etc/tollgate.yaml', {
      PORT: '7000',
      KEY: 'from-env-key-1',
    });
    expect(set.config.server.port).toBe(7000);
    expect(set.config.auth.apiKeys[0]?.key).toBe('from-env-key-1');
    expect(set.warnings).toEqual([]);
  });

  it('names file, line, column and key for an unknown key', () => {
    const p = problems(minimal('server:\n  prot: 1'));
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^\/etc\/tollgate\.yaml:9:3 server\.prot: /);
  });

  it('suggests the accepted key closest to an unknown one, at its own place in the schema', () => {
    expect(problems(minimal('limits:\n  store: redis\n  redis: { key_prefix: "x:" }'))).toEqual([
      '/etc/tollgate.yaml:10:12 limits.redis.key_prefix: Unrecognized key: "key_prefix" (did you mean prefix?)',
    ]);
    expect(problems(minimal('serve:\n  port: 1'))[0]).toMatch(
      /serve: Unrecognized key: "serve" \(did you mean server\?\)$/,
    );
    // Inside an upstream (a record of a union by transport).
    expect(
      problems(
        minimal('').replace(
          'fs: { transport: stdio, command: node }',
          'fs: { transport: stdio, command: node, arg: [x] }',
        ),
      ),
    ).toEqual(['/etc/tollgate.yaml:3:42 upstreams.fs.arg: Unrecognized key: "arg" (did you mean args?)']);
    // Nothing close: no guess.
    expect(problems(minimal('server:\n  zzzzzz: 1'))[0]).toMatch(/server\.zzzzzz: Unrecognized key: "zzzzzz"$/);
  });

  it('names the key for a wrong type and for an unset variable without default', () => {
    expect(problems(minimal('server: { port: "eighty" }'))[0]).toMatch(/:8:\d+ server\.port: .*number/);
    expect(problems(minimal('mcp:\n  server_name: ${NOPE}')).join()).toMatch(
      /mcp\.server_name: environment variable NOPE is not set/,
    );
  });

  it('an unset variable is one problem, not also the value it left empty (too short, wrong type)', () => {
    const p = problems(
      'upstreams:\n  fs: { transport: stdio, command: node }\nauth:\n  api_keys:\n    - agent: a\n      key: ${NOPE_KEY}\nserver: { port: "${NOPE_PORT}" }\n',
    );
    expect(p).toEqual([
      '/etc/tollgate.yaml:6:7 auth.api_keys.0.key: environment variable NOPE_KEY is not set (use ${NOPE_KEY:-default})',
      '/etc/tollgate.yaml:7:11 server.port: environment variable NOPE_PORT is not set (use ${NOPE_PORT:-default})',
    ]);
  });

  it('rejects upstream names that cannot be namespaced, and YAML syntax errors with a line', () => {
    expect(
      problems(`upstreams:\n  bad_name: { transport: stdio, command: x }\nauth: { allow_anonymous: true }`).join(),
    ).toMatch(/upstreams\.bad_name/);
    expect(problems('upstreams: [\n')[0]).toMatch(/tollgate\.yaml:\d+:\d+ YAML syntax/);
  });

  it('produces frozen runtime config with durations in ms', () => {
    const { config } = parseConfigText(minimal('server: { session_idle_timeout: 5m }'), '/etc/tollgate.yaml', {});
    expect(config.server.sessionIdleTimeoutMs).toBe(300_000);
    expect(config.upstreams[0]?.timeouts.requestMs).toBe(60_000);
    expect(Object.isFrozen(config.server)).toBe(true);
  });

  it('bounds slow clients by default (headers 10 s, whole request 30 s) and refuses bounds Node cannot keep', () => {
    const { config } = parseConfigText(minimal(''), '/etc/tollgate.yaml', {});
    expect([config.server.headersTimeoutMs, config.server.requestTimeoutMs]).toEqual([10_000, 30_000]);
    expect(problems(minimal('server: { headers_timeout: 40s }')).join('\n')).toMatch(
      /server\.headers_timeout.*at most request_timeout/,
    );
    expect(problems(minimal('server: { headers_timeout: 0 }')).join('\n')).toMatch(/server\.headers_timeout/);
  });

  it('trusts no proxy by default, and refuses a trusted_proxies entry that is not an address or range', () => {
    expect(parseConfigText(minimal(''), '/etc/tollgate.yaml', {}).config.server.trustedProxies).toEqual([]);
    const ok = parseConfigText(
      minimal('server: { trusted_proxies: [10.0.0.0/8, "2001:db8::/32", 192.0.2.1] }'),
      '/etc/tollgate.yaml',
      {},
    );
    expect(ok.config.server.trustedProxies).toEqual(['10.0.0.0/8', '2001:db8::/32', '192.0.2.1']);
    const p = problems(minimal('server:\n  trusted_proxies: [10.0.0.0/8, lb.internal, 10.0.0.0/40]'));
    expect(p).toHaveLength(2);
    expect(p[0]).toMatch(/server\.trusted_proxies\.1: "lb\.internal" is not an IPv4 or IPv6 address or CIDR range/);
    expect(p[1]).toMatch(/server\.trusted_proxies\.2: "10\.0\.0\.0\/40": the prefix length must be 0 to 32/);
  });

  it('ships JSON Schemas that match the zod schemas (run npm run schema when this fails)', () => {
    expect(readFileSync(new URL('../../schema/tollgate.schema.json', import.meta.url), 'utf8')).toBe(
      renderJsonSchema(),
    );
    expect(readFileSync(new URL('../../schema/policy.schema.json', import.meta.url), 'utf8')).toBe(
      renderPolicyJsonSchema(),
    );
  });
});

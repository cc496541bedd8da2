import { describe, expect, it } from 'vitest';
import { REDACTED, createRedactor, cutUtf8 } from './redact.js';

const redact = createRedactor({ keys: ['session_cookie'], maxValueBytes: 64 });

describe('createRedactor', () => {
  it('redacts configured and default keys at any depth, case- and separator-insensitively', () => {
    const input = {
      user: 'bob',
      Password: 'hunter2',
      nested: {
        deeper: [{ API_KEY: 'k1', 'X-Api-Key': 'k2', apiKey: 'k3' }],
        Authorization: 'Basic abc',
        githubToken: 'x',
        db_password: 'y',
      },
      session_cookie: { any: 'shape' },
      max_tokens: 100,
      tokens: ['a'],
    };
    expect(redact(input)).toEqual({
      user: 'bob',
      Password: REDACTED,
      nested: {
        deeper: [{ API_KEY: REDACTED, 'X-Api-Key': REDACTED, apiKey: REDACTED }],
        Authorization: REDACTED,
        githubToken: REDACTED,
        db_password: REDACTED,
      },
      session_cookie: REDACTED,
      max_tokens: 100,
      tokens: ['a'],
    });
  });

  it('redacts secret-looking values anywhere in strings', () => {
    const r = createRedactor({ keys: [], maxValueBytes: 10_000 });
    const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY-----';
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
    const out = r({
      a: 'curl -H "Authorization: Bearer abcdef123456.xyz" https://x',
      b: ['key sk-proj-abcdefghijklmnopqrstuv here'],
      c: 'aws AKIAIOSFODNN7EXAMPLE end',
      d: 'token ghp_0123456789abcdefghijABCDEFGHIJ012345 ok',
      e: `before ${pem} after`,
      f: `jwt=${jwt}`,
      g: 'nothing secret here: sk-short, AKIA123',
    }) as Record<string, unknown>;
    expect(out).toEqual({
      a: `curl -H "Authorization: ${REDACTED}" https://x`,
      b: [`key ${REDACTED} here`],
      c: `aws ${REDACTED} end`,
      d: `token ${REDACTED} ok`,
      e: `before ${REDACTED} after`,
      f: `jwt=${REDACTED}`,
      g: 'nothing secret here: sk-short, AKIA123',
    });
  });

  it('applies extra patterns, making them global', () => {
    const r = createRedactor({ keys: [], patterns: [/acct-\d{6}/], maxValueBytes: 100 });
    expect(r('acct-123456 and acct-654321')).toBe(`${REDACTED} and ${REDACTED}`);
  });

  it('truncates long strings, recording the original byte length', () => {
    const long = 'é'.repeat(100); // 200 bytes
    expect(redact({ text: long })).toEqual({ text: { __truncated: true, length: 200, head: 'é'.repeat(32) } });
    expect(redact('x'.repeat(64))).toBe('x'.repeat(64));
    // A secret straddling the cut is still redacted, not half-kept.
    const r = createRedactor({ keys: [], maxValueBytes: 20 });
    expect(r(`${'x'.repeat(10)} sk-abcdefghijklmnopqrstuvwxyz`)).toEqual({
      __truncated: true,
      length: 40,
      head: `${'x'.repeat(10)} ${REDACTED.slice(0, 9)}`,
    });
  });

  it('never mutates its input', () => {
    const input = { password: 'p', list: [{ token: 't', s: 'Bearer abcdefghijkl' }] };
    const copy = structuredClone(input);
    redact(input);
    expect(input).toEqual(copy);
  });

  it('handles cycles, depth, huge inputs and odd values', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    a.list = [a];
    expect(redact(a)).toEqual({ name: 'a', self: '[Circular]', list: ['[Circular]'] });

    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 100; i++) deep = { d: deep };
    const out = JSON.stringify(createRedactor({ keys: [], maxValueBytes: 10, maxDepth: 5 })(deep));
    expect(out).toBe('{"d":{"d":{"d":{"d":{"d":"[MaxDepth]"}}}}}');

    const big = createRedactor({ keys: [], maxValueBytes: 10, maxNodes: 10 })(
      Array.from({ length: 1000 }, (_, i) => i),
    ) as unknown[];
    expect(big.length).toBeLessThanOrEqual(11);
    expect(big.at(-1)).toBe('[Truncated]');

    const shared = { x: 1 };
    expect(redact({ a: shared, b: shared })).toEqual({ a: { x: 1 }, b: { x: 1 } }); // shared is not a cycle
    expect(redact({ n: 10n, f: () => 1, u: undefined, d: new Date(0), nan: NaN, buf: Buffer.from('hi') })).toEqual({
      n: '10',
      d: '1970-01-01T00:00:00.000Z',
      nan: 'NaN',
      buf: { __binary: true, length: 2 },
    });
    const throwing = {
      get boom(): string {
        throw new Error('no');
      },
    };
    expect(redact({ t: throwing })).toEqual({ t: '[Unreadable]' });
    const proto = JSON.parse('{"__proto__": {"polluted": true}}') as object;
    const r = redact(proto) as Record<string, unknown>;
    expect(Object.getPrototypeOf(r)).toBe(Object.prototype);
    expect(JSON.stringify(r)).toBe('{"__proto__":{"polluted":true}}');
  });

  it('cutUtf8 never splits a character', () => {
    expect(cutUtf8('aé€😀', 4)).toBe('aé');
    expect(cutUtf8('aé€😀', 6)).toBe('aé€');
    expect(cutUtf8('aé€😀', 100)).toBe('aé€😀');
  });
});

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

describe('createRedactor: secret shapes (issue 14: 10 of 22 planted secrets were missed)', () => {
  const r = createRedactor({ keys: [], maxValueBytes: 100_000 });
  const S = 'Zx9Qw7Lm3Np5Rt8Vb2Kc'; // the planted secret: it must not survive anywhere
  const jwtOf = (header: string) =>
    `${Buffer.from(header).toString('base64url')}.${Buffer.from('{"sub":"agent-1","n":1}').toString('base64url')}.${S}`;

  const positives: [string, unknown][] = [
    ['aws_secret_access_key', { aws_secret_access_key: S }],
    ['secretAccessKey', { secretAccessKey: S }],
    ['AWS_SECRET_ACCESS_KEY', { AWS_SECRET_ACCESS_KEY: S }],
    ['passphrase', { passphrase: S }],
    ['db_pass', { db_pass: S }],
    ['DB_PASS', { DB_PASS: S }],
    ['pwd', { pwd: S }],
    ['userPassword', { userPassword: S }],
    ['new-password', { 'new-password': S }],
    ['client_secret', { client_secret: S }],
    ['privateKey', { privateKey: S }],
    ['X-Api-Key', { 'X-Api-Key': S }],
    ['APIKEY', { APIKEY: S }],
    ['encryption_key', { encryption_key: S }],
    ['signingKey', { signingKey: S }],
    ['session_id', { session_id: S }],
    ['sessionToken', { sessionToken: S }],
    ['refresh_token', { refresh_token: S }],
    ['oauth_token', { oauth_token: S }],
    ['Set-Cookie', { 'Set-Cookie': `sid=${S}` }],
    ['credentials object', { credentials: { user: 'a', pass: S } }],
    ['auth', { auth: `bob:${S}` }],
    ['mytoken (no separator)', { mytoken: S }],
    ['smtpPasswd', { smtpPasswd: S }],
    ['otp', { otp: S }],
    ['["PASSWORD", value] pair', { env: [['PASSWORD', S]] }],
    ['argv --password value', { args: ['mysql', '-u', 'root', '--password', S] }],
    ['env entry {name, value}', { env: [{ name: 'DB_PASSWORD', value: S }] }],
    ['postgres URL password', { dsn: `postgres://user:${S}@db.internal:5432/app` }],
    ['mongodb+srv URL password', `connect to mongodb+srv://admin:${S}@cluster0.example.net/test`],
    ['redis URL without user', `redis://:${S}@127.0.0.1:6379/0`],
    ['sk_live_ Stripe key', `charge with sk_live_${S}`],
    ['rk_test_ Stripe key', `rk_test_${S}`],
    ['PASSWORD=… in a shell line', `export PASSWORD=${S} && ./run`],
    ['DB_PASSWORD="…" quoted', `DB_PASSWORD="${S} with space" ./start`],
    ['--password=…', `mysql --password=${S} -h db`],
    ['?token= in a resource URI', `srv+https://files.example.com/a.txt?token=${S}&page=2`],
    ['&access_token= in a URL', `https://api.example.com/v1?x=1&access_token=${S}`],
    ['X-Amz-Signature in a presigned URL', `https://b.s3.amazonaws.com/k?X-Amz-Signature=${S}&X-Amz-Date=1`],
    ['JWT whose header has spaces', `token is ${jwtOf('{ "alg": "HS256", "typ": "JWT" }')}`],
    ['JWT with a newline in its header', jwtOf('{\n  "alg": "RS256"\n}')],
    ['compact JWT', jwtOf('{"alg":"HS256"}')],
    ['Basic credentials', `Authorization: Basic ${Buffer.from(`bob:${S}`).toString('base64')}`],
    ['Bearer token', `curl -H "Authorization: Bearer ${S}"`],
    ['embedded JSON "password": "…"', `{"user": "bob", "password": "${S}"}`],
    ['YAML api_key: …', `api_key: ${S}\nregion: eu`],
    ['GitHub token', `ghp_${S}${S}`],
    ['GitLab token', `glpat-${S}`],
    ['AWS access key id', 'AKIAIOSFODNN7EXAMPLE'],
    ['OpenAI key', `sk-proj-${S}`],
    ['Slack token', `xoxb-${S}`],
    ['Tollgate API key', `tg_${S}${S}`],
    ['PEM private key', `-----BEGIN OPENSSH PRIVATE KEY-----\n${S}\n-----END OPENSSH PRIVATE KEY-----`],
  ];

  it.each(positives)('redacts %s', (_, input) => {
    const out = JSON.stringify(r(input));
    expect(out).toContain(REDACTED);
    expect(out).not.toContain(S);
    expect(out).not.toContain('AKIAIOSFODNN7EXAMPLE');
  });

  it('keeps what is around a secret: the user and host of a URL, other query parameters', () => {
    expect(r(`postgres://user:${S}@db:5432/app`)).toBe(`postgres://user:${REDACTED}@db:5432/app`);
    expect(r(`srv+https://f/a.txt?token=${S}&page=2`)).toBe(`srv+https://f/a.txt?token=${REDACTED}&page=2`);
    expect(r(`A=1 PASSWORD=${S} B=2`)).toBe(`A=1 PASSWORD=${REDACTED} B=2`);
    expect(r({ env: [['PASSWORD', S]] })).toEqual({ env: [['PASSWORD', REDACTED]] });
    expect(r.text(`srv+file:///x?sig=${S}`)).toBe(`srv+file:///x?sig=${REDACTED}`);
  });

  // Look-alikes that must stay as they are. Decision: a key whose last word describes a secret
  // (a length, a type, a name, a URL) is not the secret: `password_policy_min_length: 8` stays.
  const negatives: [string, unknown][] = [
    ['passenger', { passenger: 'John' }],
    ['tokenizer', { tokenizer: 'cl100k_base' }],
    ['author', { author: 'Jane Doe' }],
    ['secretary', { secretary: 'Ann' }],
    ['max_tokens', { max_tokens: 100 }],
    ['total_tokens', { total_tokens: 12 }],
    ['token_count', { token_count: 5 }],
    ['tokenCount', { tokenCount: 5 }],
    ['password_policy_min_length', { password_policy_min_length: 8 }],
    ['passwordMinLength', { passwordMinLength: 12 }],
    ['auth_method', { auth_method: 'oauth' }],
    ['authType', { authType: 'basic' }],
    ['token_type', { token_type: 'Bearer' }],
    ['token_url', { token_url: 'https://idp.example.com/token' }],
    ['secret_name', { secret_name: 'prod/db' }],
    ['session_timeout', { session_timeout: '30m' }],
    ['keyboard', { keyboard: 'us' }],
    ['public_key / primary_key / sort_key', { public_key: 'ssh-ed25519 AAAA', primary_key: 'id', sort_key: 'ts' }],
    ['bypass / compass', { bypass: true, compass: 'north' }],
    ['authenticated', { authenticated: true }],
    ['a short sk- and AKIA', 'nothing secret here: sk-short, AKIA123'],
    ['a URL with ordinary query parameters', 'https://example.com/path?page=2&q=tokens'],
    ['a URL with a user but no password', 'https://user@github.com/org/repo.git and postgres://app@db/x'],
    ['times and ratios', 'at 10:30:00, ratio 3:4'],
    ['an email address', 'mail bob@example.com'],
    ['key=value', 'key=value sort_key=ts'],
    ['dotted words that start with ey/ew', 'see eyeglasses.eyewitness.com and ewoks.everywhere.net'],
    ['tokenizer=… and author=…', 'tokenizer=fast author=Jane'],
    ['Basic in prose', 'Basic understanding of things'],
    ['max_tokens=100', 'max_tokens=100 temperature=0.2'],
    ['prose about passwords', 'The password policy requires 8 characters'],
  ];

  it.each(negatives)('keeps %s', (_, input) => {
    expect(r(input)).toEqual(input);
  });

  it('still honours configured keys (whole key or its end)', () => {
    const c = createRedactor({ keys: ['session_cookie', 'ssn'], maxValueBytes: 100 });
    expect(c({ session_cookie: 'x', customer_ssn: '1', ssn_count: 2 })).toEqual({
      session_cookie: REDACTED,
      customer_ssn: REDACTED,
      ssn_count: 2,
    });
  });

  it('stays linear on adversarial strings (1 MiB each; a quadratic pass would not finish)', () => {
    const big = createRedactor({ keys: [], maxValueBytes: 8 * 1024 * 1024 });
    const n = 1024 * 1024;
    const fill = (unit: string) => unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
    const inputs = [
      fill('a'),
      fill('a='),
      fill('a:'),
      fill('password='),
      fill('password="'),
      fill('token: '),
      fill('eyJ'),
      `ey${fill('A')}`,
      fill('eyJhbGciOiJIUzI1NiJ9.'),
      fill('x://'),
      fill('a://b:'),
      `a://b:${fill('c')}@`,
      fill('@://:'),
      `Bearer ${fill(' ')}`,
      fill('Basic '),
      `-----BEGIN ${fill('A')}`,
      fill('-----BEGIN PRIVATE KEY-----'),
      fill(`${'a'.repeat(63)}-`),
      fill('sk-'),
      fill('-a'),
    ];
    for (const s of inputs) expect(typeof big(s)).toBe('string');
  }, 120_000);
});

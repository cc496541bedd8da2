// Hardening: property-based attacks on a real gateway (feature server over stdio behind it).
// The rule: bad input gets a clear error in the protocol's shape (an HTTP status plus a JSON-RPC
// error body), never a crash, a hang or lost audit data. Runs are bounded and seeded: set
// FUZZ_SEED to replay a failure (fast-check prints the seed and path of a counterexample) and
// FUZZ_RUNS to explore more.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { authYaml, startGateway, TEST_KEY, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { rawHttp, rawRequest, shapeProblem, type RawResponse } from './raw-http.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import { tempDir } from '../helpers/tmp.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_905);
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const params = (numRuns = RUNS) => ({ seed: SEED, numRuns, endOnFailure: false, interruptAfterTimeLimit: 20_000 });

const OTHER_KEY = 'other-key-0123456789';
const ADMIN_TOKEN = 'admin-token-0123456789';
const MAX_BODY = 256 * 1024;
const FEATURE = resolve('test/fixtures/feature-server.ts');
const config = `
server: { max_body_bytes: ${MAX_BODY} }
upstreams:
  featio: { transport: stdio, command: node, args: [${nodeArgsYaml(FEATURE)}, --stdio], cwd: ${resolve('.')} }
admin: { tokens: [${ADMIN_TOKEN}] }
${authYaml({ tester: TEST_KEY, other: OTHER_KEY })}`;

let gw: TestGateway & { auditFile: string };
let port: number;
const dispatcher = new Agent({ keepAliveTimeout: 10_000, headersTimeout: 10_000, bodyTimeout: 10_000, connections: 8 });
const sessions: Record<'cur' | 'old' | 'other' | 'single', string> = { cur: '', old: '', other: '', single: '' };
/** JSON ids of tools/call requests the gateway answered with 200: each must be in the audit log. */
const answeredCalls = new Set<string>();
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown): void => void unhandled.push(e);

const auth = (key = TEST_KEY) => ({ authorization: `Bearer ${key}` });
const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const initMsg = (version: string) => ({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'fuzz', version: '1' } },
});

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
  timedOut?: boolean;
}

/** POSTs raw bytes (undici sends them as they are); a hang surfaces as `timedOut`. */
async function post(body: string | Buffer, headers: Record<string, string>, path = '/mcp'): Promise<Answer> {
  try {
    const r = await request(`${gw.url}${path}`, { method: 'POST', headers, body, dispatcher });
    const text = await r.body.text();
    const h: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.headers)) h[k] = Array.isArray(v) ? v.join(', ') : String(v);
    return { status: r.statusCode, headers: h, body: text };
  } catch (err) {
    return { status: 0, headers: {}, body: String((err as Error).message), timedOut: true };
  }
}

async function openSession(key: string, version: string, path = '/mcp'): Promise<string> {
  const r = await post(JSON.stringify(initMsg(version)), { ...auth(key), ...JSON_HEADERS }, path);
  expect(r.status).toBe(200);
  const sid = r.headers['mcp-session-id'];
  expect(sid).toBeTruthy();
  await post(
    '{"jsonrpc":"2.0","method":"notifications/initialized"}',
    { ...auth(key), ...JSON_HEADERS, 'mcp-session-id': sid! },
    path,
  );
  return sid!;
}

const onSession = (sid: string, key = TEST_KEY) => ({ ...auth(key), ...JSON_HEADERS, 'mcp-session-id': sid });

/** The ids a body carries (for the oracle), when it parses at all. */
function idsOf(text: string): (string | number | null)[] | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return [];
  }
  const list = Array.isArray(v) ? v : [v];
  return list.flatMap((m) =>
    typeof m === 'object' && m !== null && 'id' in m ? [(m as { id: string | number | null }).id] : [],
  );
}

/**
 * Node's own answer to a request its HTTP parser refused (bad header bytes, oversized head, bad
 * framing): a bare 400/431 with no body, written before the gateway sees the request. Properties
 * set these aside (the root cause is one: see the parser-level test) so they keep exploring the
 * gateway's own handling.
 */
const parserRejections: string[] = [];
function isParserRejection(r: RawResponse): boolean {
  return (
    (r.status === 400 || r.status === 431) &&
    r.body.length === 0 &&
    r.headers['content-type'] === undefined &&
    /close/i.test(r.headers.connection ?? '')
  );
}

/** SSE answers (when the client asked for them) are checked message by message. */
function problemOf(a: Answer | RawResponse, sentIds: (string | number | null)[] | undefined): string | undefined {
  const body = typeof a.body === 'string' ? a.body : a.body.toString('utf8');
  if (a.status === 200 && (a.headers['content-type'] ?? '').startsWith('text/event-stream')) {
    const datas = body
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => l.slice(6));
    if (datas.length === 0) return `SSE answer without messages: ${JSON.stringify(body.slice(0, 200))}`;
    return shapeProblem(
      { status: 200, headers: { 'content-type': 'application/json' }, body: datas[datas.length - 1]! },
      sentIds,
    );
  }
  return shapeProblem({ ...a, body }, sentIds);
}

function note(sent: string, a: Answer): void {
  if (a.status !== 200) return;
  try {
    const m = JSON.parse(sent) as { method?: unknown; id?: unknown };
    if (m.method === 'tools/call' && (typeof m.id === 'string' || typeof m.id === 'number'))
      answeredCalls.add(JSON.stringify(m.id));
  } catch {
    /* not a single message */
  }
}

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
  gw = await startGateway(config);
  port = Number(new URL(gw.url).port);
  sessions.cur = await openSession(TEST_KEY, '2025-11-25');
  sessions.old = await openSession(TEST_KEY, '2025-03-26');
  sessions.other = await openSession(OTHER_KEY, '2025-11-25');
  sessions.single = await openSession(TEST_KEY, '2025-11-25', '/mcp/featio');
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
  await dispatcher.close();
  await gw?.close();
});

// ---- generators ---------------------------------------------------------------------------------

const SAFE_TOOLS = [
  'featio__echo',
  'featio__log',
  'featio__touch',
  'featio__headers',
  'featio__last_cancelled',
  'featio__nope',
  'nope__echo',
  'echo',
  '',
];
const KNOWN_METHODS = [
  'tools/call',
  'tools/list',
  'prompts/list',
  'prompts/get',
  'resources/list',
  'resources/read',
  'resources/templates/list',
  'resources/subscribe',
  'resources/unsubscribe',
  'completion/complete',
  'logging/setLevel',
  'ping',
  'initialize',
  'notifications/cancelled',
  'notifications/initialized',
  'notifications/roots/list_changed',
  'custom/echo',
];
/** Property names every plain object inherits: a lookup table keyed by method must not see them. */
const PROTO_KEYS = [
  'constructor',
  '__proto__',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  '__defineGetter__',
  'toLocaleString',
];

const jsonText = (v: unknown): string => JSON.stringify(v) ?? 'null';
const anyJson = fc.jsonValue({ maxDepth: 4 }).map(jsonText);

const idText = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 31 }).map(String) },
  { weight: 3, arbitrary: fc.string({ maxLength: 20 }).map(jsonText) },
  fc.bigInt({ min: 2n ** 53n - 2n, max: 2n ** 80n }).map(String), // around and past 2^53
  fc.bigInt({ min: -(2n ** 80n), max: -(2n ** 53n) + 2n }).map(String),
  fc.constantFrom(
    '1.5',
    '-0',
    '1e2',
    '1e400',
    '-1e400',
    '0.1',
    'true',
    'false',
    'null',
    '[]',
    '{}',
    '[1]',
    '{"a":1}',
    '"a"',
  ),
  fc.integer({ min: 250, max: 300 }).map((n) => jsonText('i'.repeat(n))), // around the 256-character id limit
  fc.string({ minLength: 1000, maxLength: 5000 }).map(jsonText),
  anyJson,
);

const methodText = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...KNOWN_METHODS).map(jsonText) },
  {
    weight: 2,
    arbitrary: fc
      .string({ maxLength: 40 })
      .filter((m) => !PROTO_KEYS.includes(m))
      .map(jsonText),
  }, // PROTO_KEYS: their own test
  fc.constantFrom(
    '1',
    'null',
    'true',
    '[]',
    '{}',
    '["tools/list"]',
    '""',
    jsonText('m'.repeat(257)),
    jsonText('tools/list\u0000'),
    jsonText('tools/list '),
  ),
  anyJson,
);

const argsText = fc.oneof(
  anyJson,
  fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 })).map(jsonText),
  fc.constantFrom(
    '{"text":"hi"}',
    '{"text":"\\ud800"}',
    '{"__proto__":{"x":1}}',
    '{"password":"p","token":"Bearer abcdefghijkl"}',
  ),
);
const paramsText = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.constantFrom(...SAFE_TOOLS), argsText)
      .map(([name, args]) => `{"name":${jsonText(name)},"arguments":${args}}`),
  },
  fc.constantFrom(
    '{}',
    '[]',
    '[1,2]',
    'null',
    '1',
    '"x"',
    'true',
    '{"uri":"featio+mem://a"}',
    '{"uri":"mem://a"}',
    '{"level":"debug"}',
    '{"level":"__proto__"}',
    '{"cursor":"999999"}',
    '{"cursor":{}}',
    '{"ref":{"type":"ref/prompt","name":"featio__x"}}',
    '{"requestId":1}',
    '{"_meta":{"progressToken":{}}}',
    '{"_meta":{"progressToken":1}}',
    '{"name":{"toString":1}}',
  ),
  anyJson,
);

/** A message as text: each field present, absent or odd; sometimes keys repeat (JSON.parse keeps the last). */
const messageText = fc
  .record({
    jsonrpc: fc.option(
      fc.oneof(
        { weight: 8, arbitrary: fc.constant('"2.0"') },
        fc.constantFrom('"1.0"', '2', '2.0', 'null', '""', '"2.0 "'),
      ),
      { nil: undefined, freq: 8 },
    ),
    id: fc.option(idText, { nil: undefined, freq: 4 }),
    method: fc.option(methodText, { nil: undefined, freq: 8 }),
    params: fc.option(paramsText, { nil: undefined, freq: 3 }),
    result: fc.option(fc.oneof(fc.constant('{}'), anyJson), { nil: undefined, freq: 12 }),
    error: fc.option(fc.oneof(fc.constant('{"code":1,"message":"m"}'), anyJson), { nil: undefined, freq: 12 }),
    dupId: fc.option(idText, { nil: undefined, freq: 15 }),
  })
  .map((f) => {
    const parts: string[] = [];
    for (const k of ['jsonrpc', 'id', 'method', 'params', 'result', 'error'] as const)
      if (f[k] !== undefined) parts.push(`"${k}":${f[k]}`);
    if (f.dupId !== undefined) parts.push(`"id":${f.dupId}`);
    return `{${parts.join(',')}}`;
  });

const validCall = (id: string | number, text: string) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'featio__echo', arguments: { text } } });

// ---- properties ---------------------------------------------------------------------------------

describe('fuzz: request bodies', () => {
  it('malformed JSON, invalid UTF-8 and mutated messages get a JSON-RPC error (or a valid answer)', async () => {
    const base = validCall('m-1', 'hello');
    const bodies = fc.oneof(
      fc.string({ maxLength: 200 }).map((s) => Buffer.from(s)),
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.nat(base.length).map((n) => Buffer.from(base.slice(0, n))), // truncations
      fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })).map(([at, byte]) => {
        const b = Buffer.from(base);
        b[at] = byte; // one byte replaced: often invalid UTF-8 or broken syntax
        return b;
      }),
      fc
        .uint8Array({ minLength: 1, maxLength: 8 })
        .map((bad) =>
          Buffer.concat([
            Buffer.from(base.slice(0, base.indexOf('hello'))),
            Buffer.from(bad),
            Buffer.from(base.slice(base.indexOf('hello') + 5)),
          ]),
        ),
      fc
        .constantFrom(
          `\ufeff${base}`,
          `${base}x`,
          base + base,
          `${base}\n${base}`,
          '{"jsonrpc":"2.0","id":NaN,"method":"ping"}',
          '{"jsonrpc":"2.0","id":1,"method":"ping"} // c',
          '',
          ' ',
          'null',
          '0',
          '"str"',
          'true',
          '[]',
          '[[]]',
          '[null]',
          '{}',
        )
        .map((s) => Buffer.from(s)),
    );
    await fc.assert(
      fc.asyncProperty(bodies, async (body) => {
        const a = await post(body, onSession(sessions.cur));
        note(body.toString('utf8'), a);
        const p = problemOf(a, idsOf(body.toString('utf8')));
        if (p) throw new Error(p);
      }),
      params(),
    );
  });

  it('valid JSON with wrong JSON-RPC shapes and types: odd ids, huge ids, long strings, missing jsonrpc, non-string methods, array params', async () => {
    await fc.assert(
      fc.asyncProperty(messageText, async (text) => {
        const a = await post(text, onSession(sessions.cur));
        note(text, a);
        const p = problemOf(a, idsOf(text));
        if (p) throw new Error(p);
      }),
      params(400),
    );
  });

  it('batches: refused where not allowed (2025-06-18+), answered one response per request where allowed (2025-03-26)', async () => {
    const batch = fc
      .array(
        fc.oneof(
          messageText,
          fc.integer({ min: 1, max: 50 }).map((n) => validCall(n, `b${n}`)),
        ),
        { maxLength: 6 },
      )
      .map((ms) => `[${ms.join(',')}]`);
    await fc.assert(
      fc.asyncProperty(batch, fc.boolean(), async (text, allowed) => {
        const a = await post(text, onSession(allowed ? sessions.old : sessions.cur));
        const p = problemOf(a, idsOf(text));
        if (p) throw new Error(p);
        if (!allowed && a.status !== 400)
          throw new Error(`a batch on a 2025-11-25 session got ${a.status}: ${a.body.slice(0, 200)}`);
        if (allowed && a.status === 200) {
          // Every request (a message with a string/number id and a method) is answered once.
          const sent = (JSON.parse(text) as Record<string, unknown>[]).filter(
            (m) => typeof m.method === 'string' && (typeof m.id === 'string' || typeof m.id === 'number'),
          );
          const got = JSON.parse(a.body) as unknown[];
          if (!Array.isArray(got) || got.length !== sent.length)
            throw new Error(`batch of ${sent.length} requests answered with ${JSON.stringify(got).slice(0, 200)}`);
        }
      }),
      params(200),
    );
  });

  it('unknown methods get -32601 on /mcp, and are relayed (answered, never a gateway failure) on /mcp/<server>', async () => {
    const method = fc
      .string({ minLength: 1, maxLength: 256 })
      .filter(
        (m) =>
          !KNOWN_METHODS.includes(m) &&
          !PROTO_KEYS.includes(m) &&
          !m.startsWith('notifications/') &&
          !m.startsWith('tools/') &&
          !m.startsWith('resources/') &&
          !m.startsWith('prompts/'),
      );
    await fc.assert(
      fc.asyncProperty(method, fc.boolean(), fc.integer({ min: 1, max: 1e9 }), async (m, single, id) => {
        const text = JSON.stringify({ jsonrpc: '2.0', id, method: m, params: {} });
        const a = await post(text, onSession(single ? sessions.single : sessions.cur), single ? '/mcp/featio' : '/mcp');
        const p = problemOf(a, [id]);
        if (p) throw new Error(p);
        const body = JSON.parse(a.body) as { error?: { code: number } };
        if (!single && body.error?.code !== -32601)
          throw new Error(`unknown method ${JSON.stringify(m)} on /mcp answered ${a.body.slice(0, 200)}`);
      }),
      params(200),
    );
  });

  it('2026-07-28 stateless requests (no session): odd envelopes and mirrored headers get a JSON-RPC error or a valid answer', async () => {
    const ascii = fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 30,
    });
    const modern = fc.record({
      method: fc.oneof(
        {
          weight: 6,
          arbitrary: fc.constantFrom(
            'tools/call',
            'tools/list',
            'server/discover',
            'resources/read',
            'prompts/get',
            'initialize',
            'ping',
            'logging/setLevel',
            'custom/echo',
            'notifications/x',
          ),
        },
        fc.string({ maxLength: 20 }).filter((m) => !PROTO_KEYS.includes(m)),
      ),
      version: fc.oneof(
        { weight: 10, arbitrary: fc.constant('2026-07-28') },
        fc.constantFrom('2025-11-25', '2026-07-29', '9999-99-99', '', '2026-07-28 '),
        ascii,
      ),
      versionValue: fc.option(fc.constantFrom('1', 'null', '{}', '[]'), { nil: undefined, freq: 6 }),
      headerVersion: fc.oneof({ weight: 8, arbitrary: fc.constant('same') }, fc.constant('absent'), ascii),
      caps: fc.oneof(
        { weight: 8, arbitrary: fc.constant('{}') },
        fc.constantFrom('null', '[]', '1', '"x"', '{"sampling":{}}', '{"__proto__":{"x":1}}'),
        anyJson,
      ),
      name: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...SAFE_TOOLS) }, fc.string({ maxLength: 20 })),
      nameHeader: fc.oneof(
        { weight: 5, arbitrary: fc.constant('same') },
        fc.constant('absent'),
        { weight: 3, arbitrary: fc.constant('base64') },
        fc.constant('=?base64?!!!?='),
        ascii,
      ),
      methodHeader: fc.oneof({ weight: 8, arbitrary: fc.constant('same') }, fc.constant('absent'), ascii),
      id: fc.option(fc.oneof(fc.integer(), fc.string({ maxLength: 10 })), { nil: undefined, freq: 6 }),
      args: argsText,
      logLevel: fc.option(fc.constantFrom('"debug"', '"__proto__"', '1', '{}'), { nil: undefined, freq: 3 }),
    });
    const headerSafe = (v: string): string =>
      /^[\x20-\x7e]*$/.test(v) ? v : `=?base64?${Buffer.from(v).toString('base64')}?=`;
    await fc.assert(
      fc.asyncProperty(modern, async (m) => {
        const meta = [
          `"io.modelcontextprotocol/protocolVersion":${m.versionValue ?? JSON.stringify(m.version)}`,
          `"io.modelcontextprotocol/clientCapabilities":${m.caps}`,
        ];
        if (m.logLevel !== undefined) meta.push(`"io.modelcontextprotocol/logLevel":${m.logLevel}`);
        const paramsText = `{"name":${JSON.stringify(m.name)},"uri":${JSON.stringify(m.name)},"arguments":${m.args},"_meta":{${meta.join(',')}}}`;
        const text = `{"jsonrpc":"2.0",${m.id === undefined ? '' : `"id":${JSON.stringify(m.id)},`}"method":${JSON.stringify(m.method)},"params":${paramsText}}`;
        const headers: Record<string, string> = { ...auth(), ...JSON_HEADERS };
        if (m.headerVersion !== 'absent')
          headers['mcp-protocol-version'] = m.headerVersion === 'same' ? headerSafe(m.version) : m.headerVersion;
        if (m.methodHeader !== 'absent')
          headers['mcp-method'] = m.methodHeader === 'same' ? headerSafe(m.method) : m.methodHeader;
        if (m.nameHeader !== 'absent')
          headers['mcp-name'] =
            m.nameHeader === 'same'
              ? headerSafe(m.name)
              : m.nameHeader === 'base64'
                ? `=?base64?${Buffer.from(m.name).toString('base64')}?=`
                : m.nameHeader;
        const a = await post(text, headers);
        note(text, a);
        const p = problemOf(a, m.id === undefined ? [] : [m.id]);
        if (p) throw new Error(p);
      }),
      params(300),
    );
  });

  it.each(PROTO_KEYS)(
    'method %j (an Object.prototype property name) is an unknown method: -32601, not an internal error',
    async (m) => {
      for (const [sid, path] of [
        [sessions.cur, '/mcp'],
        [sessions.single, '/mcp/featio'],
      ] as const) {
        const a = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: m }), onSession(sid), path);
        expect(problemOf(a, [1]), `${path}: ${a.body.slice(0, 160)}`).toBeUndefined();
      }
    },
  );

  it('oversized bodies get 413 with a JSON-RPC error, with or without Content-Length; bodies at the cap pass', async () => {
    const sizes = fc.oneof(
      fc.integer({ min: MAX_BODY - 64, max: MAX_BODY + 64 }),
      fc.integer({ min: MAX_BODY, max: 4 * MAX_BODY }),
    );
    await fc.assert(
      fc.asyncProperty(sizes, fc.boolean(), async (size, chunked) => {
        const prefix =
          '{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{"name":"featio__echo","arguments":{"text":"';
        const suffix = '"}}}';
        const body = prefix + 'x'.repeat(Math.max(0, size - prefix.length - suffix.length)) + suffix;
        const headers: [string, string][] = [
          ['Host', '127.0.0.1'],
          ['Authorization', `Bearer ${TEST_KEY}`],
          ['Content-Type', 'application/json'],
          ['Accept', 'application/json'],
          ['Mcp-Session-Id', sessions.cur],
          ['Connection', 'close'],
        ];
        const req = chunked
          ? rawHttp(
              'POST',
              '/mcp',
              [...headers, ['Transfer-Encoding', 'chunked']],
              `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
            )
          : rawHttp('POST', '/mcp', headers, body);
        const r = await rawRequest(port, [req], { timeoutMs: 10_000 });
        const p = problemOf(r, ['big']);
        if (p) throw new Error(p);
        const expected = body.length > MAX_BODY ? 413 : 200;
        if (r.status !== expected)
          throw new Error(
            `${body.length}-byte body (cap ${MAX_BODY}, ${chunked ? 'chunked' : 'Content-Length'}) got ${r.status}`,
          );
      }),
      params(60),
    );
  });
});

describe('fuzz: headers, paths and sessions (raw sockets)', () => {
  const baseHeaders = (): [string, string][] => [
    ['Host', '127.0.0.1'],
    ['Authorization', `Bearer ${TEST_KEY}`],
    ['Content-Type', 'application/json'],
    ['Accept', 'application/json, text/event-stream'],
    ['Mcp-Session-Id', sessions.cur],
    ['Connection', 'close'],
  ];
  const list = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' });

  it('odd header values (no CR/LF/NUL: those are the parser-level test below) never break the shape; X-Request-Id is never reflected unsanitised', async () => {
    const names = fc.constantFrom(
      'Authorization',
      'Mcp-Session-Id',
      'Accept',
      'Content-Type',
      'Origin',
      'Host',
      'X-Request-Id',
      'Traceparent',
      'Mcp-Protocol-Version',
      'Last-Event-Id',
      'X-Forwarded-For',
      'Cookie',
    );
    const printable = fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 80,
    });
    const highBytes = fc.string({
      unit: fc
        .integer({ min: 0x09, max: 0xff })
        .filter((c) => c === 0x09 || (c >= 0x20 && c !== 0x7f))
        .map((c) => String.fromCharCode(c)),
      maxLength: 80,
    });
    const special = fc.constantFrom(
      'Bearer ',
      'Bearer',
      `bearer ${TEST_KEY}`,
      `Bearer  ${TEST_KEY}`,
      `Bearer ${TEST_KEY} `,
      `Bearer ${OTHER_KEY}`,
      `Bearer ${ADMIN_TOKEN}`,
      'Basic dGVzdDp0ZXN0',
      'null',
      'http://evil.example',
      'http://127.0.0.1.evil.example',
      '[evil.example]',
      'text/event-stream',
      '*/*',
      '',
      '00-00000000000000000000000000000000-0000000000000000-01',
      '../../../etc/passwd',
      'a'.repeat(8000),
    );
    await fc.assert(
      fc.asyncProperty(names, fc.oneof(printable, highBytes, special), async (name, value) => {
        const headers = [
          ...baseHeaders().filter(([k]) => k.toLowerCase() !== name.toLowerCase()),
          [name, value] as [string, string],
        ];
        const r = await rawRequest(port, [rawHttp('POST', '/mcp', headers, list)], { timeoutMs: 10_000 });
        if (isParserRejection(r))
          return void parserRejections.push(`${name}: ${JSON.stringify(value.slice(0, 40))} -> bare ${r.status}`);
        const p = problemOf(r, [7]);
        if (p) throw new Error(`${name}: ${JSON.stringify(value.slice(0, 100))} -> ${p}`);
        const rid = r.headers['x-request-id'];
        if (rid !== undefined && !/^[A-Za-z0-9._:-]{1,128}$/.test(rid))
          throw new Error(`X-Request-Id reflected unsanitised: ${JSON.stringify(rid)}`);
        for (const [k, v] of Object.entries(r.headers))
          if (value.length > 8 && k !== 'x-request-id' && v.includes(value))
            throw new Error(`request header value reflected in response header ${k}`);
      }),
      params(250),
    );
  });

  it('path traversal and odd server names in per-server routes never reach another route or the admin API', async () => {
    const segment = fc.constantFrom(
      '..',
      '.',
      '%2e%2e',
      '%2E%2e',
      '.%2e',
      '%2f',
      '%2F',
      '%5c',
      '%00',
      '%',
      '%ff',
      '%c0%ae',
      'featio',
      'admin',
      'api',
      'mcp',
      'healthz',
      'featio%2F..',
      'FEATIO',
      ';',
      'featio;x',
      '~',
      '%20',
      '?x=1',
      '#f',
    );
    const long = fc.integer({ min: 100, max: 4000 }).map((n) => 'a'.repeat(n));
    // Under Node's 16 KiB head limit: longer is the parser-level test's "20 000 characters" case.
    const path = fc
      .array(
        fc.oneof(
          { weight: 6, arbitrary: segment },
          long,
          fc.string({ unit: fc.constantFrom('a', '.', '%', '2', 'e', 'f', '/'), maxLength: 12 }),
        ),
        { minLength: 1, maxLength: 5 },
      )
      .map((s) => `/mcp/${s.join('/')}`)
      .filter((p) => p.length <= 8000);
    await fc.assert(
      fc.asyncProperty(path, fc.constantFrom('POST', 'GET', 'DELETE'), async (target, method) => {
        // GET and DELETE of a path that means /mcp would open the session's stream or end it.
        if (method !== 'POST' && new URL(target, 'http://x').pathname === '/mcp') return;
        const r = await rawRequest(port, [rawHttp(method, target, baseHeaders(), method === 'POST' ? list : '')], {
          timeoutMs: 10_000,
        });
        if (isParserRejection(r))
          return void parserRejections.push(`${method} ${target.slice(0, 60)} -> bare ${r.status}`);
        const normal = new URL(target, 'http://x').pathname;
        // The session belongs to /mcp: a 2xx answer is right only for a path that means /mcp.
        if (r.status < 300 && normal !== '/mcp')
          throw new Error(
            `${method} ${target.slice(0, 200)} (normalised ${normal}) answered ${r.status}: ${r.body.toString().slice(0, 200)}`,
          );
        const p = problemOf(r, method === 'POST' ? [7] : []);
        if (p)
          throw new Error(
            `${method} ${target.length > 200 ? `${target.slice(0, 200)}… (${target.length} chars)` : target}: ${p}`,
          );
      }),
      params(250),
    );
  });

  it("bogus session ids, other agents' sessions and other endpoints' sessions are 404 (never served, never ended)", async () => {
    const bogus = fc.oneof(
      fc.string({
        unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
        minLength: 1,
        maxLength: 200,
      }),
      fc.constantFrom(
        sessions.other,
        sessions.single,
        `${sessions.cur}x`,
        sessions.cur.slice(1),
        sessions.cur.toUpperCase(),
        `${sessions.cur},${sessions.cur}`,
        ' ',
        '0',
        'null',
        '__proto__',
        'constructor',
      ),
    );
    await fc.assert(
      fc.asyncProperty(bogus, fc.constantFrom('POST', 'GET', 'DELETE'), fc.boolean(), async (sid, method, asOther) => {
        // Our own /mcp session with the other agent's key, or anything else with ours.
        const sidUsed = asOther ? sessions.cur : sid;
        const headers: [string, string][] = [
          ['Host', '127.0.0.1'],
          ['Authorization', `Bearer ${asOther ? OTHER_KEY : TEST_KEY}`],
          ['Content-Type', 'application/json'],
          ['Accept', 'application/json, text/event-stream'],
          ['Mcp-Session-Id', sidUsed],
          ['Connection', 'close'],
        ];
        if (!asOther && sid.trim() === sessions.cur) return;
        const r = await rawRequest(port, [rawHttp(method, '/mcp', headers, method === 'POST' ? list : '')], {
          timeoutMs: 10_000,
        });
        const p = problemOf(r, []);
        if (p) throw new Error(`${method} with session ${JSON.stringify(sidUsed.slice(0, 60))}: ${p}`);
        if (r.status !== 404 && r.status !== 400)
          throw new Error(
            `${method} with session ${JSON.stringify(sidUsed.slice(0, 60))}${asOther ? ' (another agent)' : ''} answered ${r.status}`,
          );
      }),
      params(200),
    );
    // Nobody ended our sessions.
    for (const [sid, path] of [
      [sessions.cur, '/mcp'],
      [sessions.single, '/mcp/featio'],
    ] as const) {
      const a = await post(list, onSession(sid), path);
      expect(a.status, `session ${path} still usable`).toBe(200);
    }
  });
});

describe('explicit attacks', () => {
  it('parser-level rejections (CR/LF/NUL in headers, bad framing, oversized head) still answer in the JSON-RPC shape', async () => {
    const h = (): [string, string][] => [
      ['Host', '127.0.0.1'],
      ['Authorization', `Bearer ${TEST_KEY}`],
      ['Content-Type', 'application/json'],
      ['Accept', 'application/json'],
      ['Mcp-Session-Id', sessions.cur],
      ['Connection', 'close'],
    ];
    const list = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' });
    const cases: [string, string][] = [
      ['bare CR in a header value', rawHttp('POST', '/mcp', [...h(), ['X-Request-Id', 'a\rX-Injected: 1']], list)],
      ['bare LF in a header value', rawHttp('POST', '/mcp', [...h(), ['X-Request-Id', 'a\nX-Injected: 1']], list)],
      ['NUL in a header value', rawHttp('POST', '/mcp', [...h(), ['Authorization', `Bearer ${TEST_KEY}\0`]], list)],
      ['obs-fold continuation line', rawHttp('POST', '/mcp', [...h(), ['X-Request-Id', 'a\r\n b']], list)],
      ['space before the colon', rawHttp('POST', '/mcp', [...h(), ['X-Request-Id ', 'a']], list)],
      [
        'two different Content-Lengths',
        rawHttp('POST', '/mcp', [...h(), ['Content-Length', String(list.length)], ['Content-Length', '5']], list),
      ],
      [
        'Content-Length with Transfer-Encoding',
        rawHttp(
          'POST',
          '/mcp',
          [...h(), ['Content-Length', String(list.length)], ['Transfer-Encoding', 'chunked']],
          list,
        ),
      ],
      ['non-numeric Content-Length', rawHttp('POST', '/mcp', [...h(), ['Content-Length', 'abc']], list)],
      ['Content-Length 2^64', rawHttp('POST', '/mcp', [...h(), ['Content-Length', '18446744073709551616']], list)],
      ['backslash path /mcp\\..\\admin', rawHttp('GET', '/mcp\\..\\admin', h())],
      ['server name of 20 000 characters', rawHttp('POST', `/mcp/${'a'.repeat(20_000)}`, h(), list)],
      ['a 20 KiB header', rawHttp('POST', '/mcp', [...h(), ['X-Pad', 'a'.repeat(20_000)]], list)],
      ['an empty Host', rawHttp('POST', '/mcp', [...h().filter(([k]) => k !== 'Host'), ['Host', '']], list)],
      [
        'HTTP/1.1 without Host',
        rawHttp(
          'POST',
          '/mcp',
          h().filter(([k]) => k !== 'Host'),
          list,
        ),
      ],
      ['garbage request line', 'GARBAGE\r\n\r\n'],
      ['HTTP/2 preface on HTTP/1.1', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
    ];
    const failures: string[] = [];
    for (const [name, req] of cases) {
      const r = await rawRequest(port, [req], { timeoutMs: 5000 });
      const p = problemOf(r, [7]);
      if (p) failures.push(`${name}: ${p}`);
    }
    const seen = [...new Set(parserRejections)].slice(0, 10);
    expect(
      failures,
      `answers without a JSON-RPC body:\n${failures.join('\n')}\n(also set aside by the properties above: ${seen.join('; ')})`,
    ).toEqual([]);
  });

  it('CR/LF smuggled into a header value is never echoed into a response header (response splitting)', async () => {
    // At the wire level "a\r\nX-Injected: 1" is two headers; what matters is that nothing the
    // client sent comes back as a header line of its own.
    const r = await rawRequest(port, [
      rawHttp(
        'POST',
        '/mcp',
        [
          ['Host', '127.0.0.1'],
          ['Authorization', `Bearer ${TEST_KEY}`],
          ['Content-Type', 'application/json'],
          ['Accept', 'application/json'],
          ['Mcp-Session-Id', sessions.cur],
          ['Connection', 'close'],
          ['X-Request-Id', 'abc\r\nSet-Cookie: pwned=1'],
        ],
        JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'ping' }),
      ),
    ]);
    expect(problemOf(r, [8])).toBeUndefined();
    expect(r.headers['set-cookie']).toBeUndefined();
    expect(r.headers['x-request-id']).toBe('abc');
  });
});

describe('after the fuzzing', () => {
  it('the gateway is healthy: /healthz 200, a normal tools/call works, no unhandled errors, the audit chain verifies and holds every answered call', async () => {
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
    const client: Client = await connect(`${gw.url}/mcp`);
    const r = (await client.callTool({ name: 'featio__echo', arguments: { text: 'still fine' } })) as CallToolResult;
    expect((r.content[0] as { text: string }).text).toBe('feat:still fine');
    await client.close();
    expect(unhandled.map(String)).toEqual([]);
    const v = await verifyAudit(gw.auditFile);
    expect(v.ok, JSON.stringify(v.firstBroken)).toBe(true);
    expect(v.incompleteTail).toBeUndefined();
    const recorded = new Set(
      readFileSync(gw.auditFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((rec) => rec['mcp.method.name'] === 'tools/call')
        .map((rec) => JSON.stringify(rec['jsonrpc.request.id'])),
    );
    const missing = [...answeredCalls].filter((id) => !recorded.has(id));
    expect(missing, 'answered tools/call requests missing from the audit log').toEqual([]);
  });
});

// ---- a separate gateway process: inputs that may kill the process -------------------------------

describe('deep nesting (10 000 levels) against a gateway process', () => {
  let proc: Spawned | undefined;
  let url: string;
  let sid: string;
  let exited: string | undefined;
  let file: string;

  /** A fresh gateway process when the last one died (so one crash does not hide the next case). */
  async function ensureGateway(): Promise<void> {
    if (proc && !exited) return;
    exited = undefined;
    proc = await spawnListening(['bin/tollgate.mjs', 'serve', '--config', file]);
    proc.child.on('exit', (code, signal) => (exited = `exited with code ${code} (signal ${signal})`));
    url = `http://127.0.0.1:${proc.port}`;
    const r = await fetch(`${url}/mcp`, {
      method: 'POST',
      headers: { ...auth(), ...JSON_HEADERS },
      body: JSON.stringify(initMsg('2025-11-25')),
    });
    sid = r.headers.get('mcp-session-id')!;
  }

  beforeAll(() => {
    const dir = tempDir('tollgate-fuzz-');
    file = join(dir, 'tollgate.yaml');
    writeFileSync(
      file,
      `audit: { file: ${join(dir, 'audit.jsonl')} }\nlog: { level: error }\n${config.replace('server: {', 'server: { port: 0,')}`,
    );
  });
  afterAll(() => proc?.kill());

  const nest = (levels: number, leaf = '1', open = '{"a":', close = '}') =>
    open.repeat(levels) + leaf + close.repeat(levels);
  const deepObj = nest(10_000);
  const cases: [string, string, string?][] = [
    [
      'tools/call arguments',
      `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"featio__echo","arguments":${deepObj}}}`,
    ],
    [
      "a notification's params (relayed to every upstream)",
      `{"jsonrpc":"2.0","method":"notifications/fuzz","params":${deepObj}}`,
    ],
    [
      "an unknown method's params on /mcp/featio (relayed)",
      `{"jsonrpc":"2.0","id":2,"method":"custom/echo","params":${deepObj}}`,
      '/mcp/featio',
    ],
    [
      "an unknown method's params on /mcp",
      `{"jsonrpc":"2.0","id":3,"method":"custom/echo","params":{"name":"featio__echo","x":${deepObj}}}`,
    ],
    ['ping params', `{"jsonrpc":"2.0","id":4,"method":"ping","params":${deepObj}}`],
    ['the id', `{"jsonrpc":"2.0","id":${deepObj},"method":"ping"}`],
    ['the method', `{"jsonrpc":"2.0","id":5,"method":${deepObj}}`],
    ["a response message's result", `{"jsonrpc":"2.0","id":"tg-1","result":${deepObj}}`],
    ['10 000 nested arrays as the body', nest(10_000, '1', '[', ']')],
    ['100 000 nested arrays as the body', nest(100_000, '1', '[', ']')],
    [
      'the _meta progress token',
      `{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"featio__echo","arguments":{"text":"x"},"_meta":{"progressToken":${deepObj}}}}`,
    ],
  ];

  async function send(path: string, body: string, session: string): Promise<Answer> {
    try {
      const r = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { ...auth(), ...JSON_HEADERS, 'mcp-session-id': session },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      const h: Record<string, string> = {};
      r.headers.forEach((v, k) => (h[k] = v));
      return { status: r.status, headers: h, body: await r.text() };
    } catch (err) {
      return { status: 0, headers: {}, body: String(err), timedOut: true };
    }
  }

  it.each(cases)('%s: a JSON-RPC answer (no -32603) and the process survives', async (name, body, path = '/mcp') => {
    await ensureGateway();
    let session = sid;
    if (path !== '/mcp') {
      const s = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { ...auth(), ...JSON_HEADERS },
        body: JSON.stringify(initMsg('2025-11-25')),
      });
      session = s.headers.get('mcp-session-id')!;
    }
    const a = await send(path, body, session);
    await new Promise((r) => setTimeout(r, 500)); // a crash from a relayed notification comes a moment later
    let healthy = false;
    try {
      healthy = (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) })).status === 200;
    } catch {
      /* dead */
    }
    const died = exited ? `gateway process ${exited} after answering ${a.status} ${a.body.slice(0, 120)}` : undefined;
    expect(died, 'the gateway process must not die').toBeUndefined();
    expect(healthy, '/healthz after the request').toBe(true);
    expect(problemOf(a, idsOf(body)), name).toBeUndefined();
  });
});

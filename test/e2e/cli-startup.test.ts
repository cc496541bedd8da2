// The `tollgate` binary at start-up and in its small commands: what an operator sees when something
// is wrong, and commands that must not race the upstreams they connect to.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeArgs } from '../helpers/compiled.js';
import { serveUntilBanner } from '../helpers/serve-banner.js';

const run = promisify(execFile);
const BIN = 'bin/tollgate.mjs';

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function tollgate(args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...nodeArgs(BIN), ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-cli-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('tollgate check --connect', () => {
  it('waits for the catalog an upstream announces while its first list is fetched', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'policies'));
    writeFileSync(
      join(dir, 'tollgate.yaml'),
      `upstreams:\n  late: { transport: stdio, command: node, args: [test/fixtures/late-tools-server.mjs], cwd: ${process.cwd()} }\npolicies: { dir: policies }\nauth: { allow_anonymous: true }\n`,
    );
    writeFileSync(join(dir, 'policies', 'a.yaml'), 'agent: a\ntools:\n  allow: ["late__late"]\n');
    const r = await tollgate(['check', '--connect', '--config', join(dir, 'tollgate.yaml')]);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/matches no tool/);
    expect(r.stdout).toMatch(/every pattern matches/);
    // The prompt-injection scan reads the same catalog.
    expect(r.stderr).toMatch(/tool late__late: possible prompt injection in description: instruction override/);
    // (and the summary counts it in the singular: pins.test.ts checks the plural)
    expect(r.stdout).toMatch(/, 1 tool flagged for prompt-injection markers\)/);
  }, 30_000);
});

describe.concurrent('tollgate key new and check wording', () => {
  it('refuses an agent name a policy file would refuse, naming the allowed pattern', async () => {
    const r = await tollgate(['key', 'new', '--agent', 'bad name!']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('--agent "bad name!" is not a valid agent id');
    expect(r.stderr).toContain('^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$');
    const ok = await tollgate(['key', 'new', '--agent', 'ci-bot@team.a']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('agent: ci-bot@team.a');
  });

  it('check counts in the singular when there is one', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'policies'));
    writeFileSync(
      join(dir, 'tollgate.yaml'),
      'upstreams:\n  fs: { transport: stdio, command: node }\nauth: { api_keys: [{ agent: a, key: "key-0123456789abcdef" }] }\npolicies: { dir: policies }\n',
    );
    writeFileSync(join(dir, 'policies', 'a.yaml'), 'agent: a\ntools:\n  allow: ["fs__*"]\n');
    const r = await tollgate(['check', '--config', join(dir, 'tollgate.yaml')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/OK \(1 upstream, 1 api key, 1 policy file\)$/m);
  });
});

describe.concurrent('tollgate serve start-up failures: one line, a hint, exit 1, no stack', () => {
  /** A config whose stdio upstream leaves a file behind when it is spawned. */
  function config(dir: string, audit: string): { file: string; spawned: string } {
    const spawned = join(dir, 'spawned');
    const file = join(dir, 'tollgate.yaml');
    writeFileSync(
      file,
      `upstreams:\n  a: { transport: stdio, command: node, args: [-e, "require('fs').writeFileSync(process.argv[1], '')", ${JSON.stringify(spawned)}] }\nauth: { allow_anonymous: true }\naudit: { file: ${audit} }\n`,
    );
    return { file, spawned };
  }
  const noStack = (r: Outcome) => {
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('{')),
    ).toHaveLength(2);
  };

  it('a port in use is refused before any stdio upstream is spawned', async () => {
    const dir = tempDir();
    const { file, spawned } = config(dir, 'null');
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    try {
      const port = (busy.address() as AddressInfo).port;
      const r = await tollgate(['serve', '--config', file, '--port', String(port)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`tollgate: cannot listen on 127.0.0.1:${port}: the port is in use`);
      expect(r.stderr).toMatch(/hint: .*--port P/);
      noStack(r);
      expect(existsSync(spawned)).toBe(false);
    } finally {
      busy.close();
    }
  }, 30_000);

  it('an audit log that cannot be written', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'not-a-folder'), '');
    const { file, spawned } = config(dir, 'not-a-folder/audit.jsonl');
    const r = await tollgate(['serve', '--config', file, '--port', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`tollgate: cannot write the audit log ${join(dir, 'not-a-folder', 'audit.jsonl')}:`);
    expect(r.stderr).toMatch(/hint: .* must be a folder that this user .* can write.*TOLLGATE_AUDIT_FILE/);
    noStack(r);
    expect(existsSync(spawned)).toBe(false);
  }, 30_000);

  it('no config file: points to the quickstart config and --config', async () => {
    const dir = tempDir();
    const r = await tollgate(['serve', '--config', join(dir, 'missing.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`tollgate: no config file at ${join(dir, 'missing.yaml')}`);
    // Relative to the working directory when the quickstart is below it (a compiled copy names its own).
    expect(r.stderr).toMatch(
      /hint: try the quickstart's: tollgate serve --config \S*examples\/quickstart\/tollgate\.yaml/,
    );
    expect(r.stderr).toContain('--config PATH or TOLLGATE_CONFIG');
    noStack(r);
  });
});

describe('tollgate check: policy files that cannot both be right', () => {
  it('an agent defined in two files names both; a CEL syntax error names file:line', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'policies'));
    writeFileSync(
      join(dir, 'tollgate.yaml'),
      'upstreams:\n  fs: { transport: stdio, command: node }\nauth: { allow_anonymous: true }\npolicies: { dir: policies }\n',
    );
    writeFileSync(join(dir, 'policies', 'alice.yaml'), 'agent: alice\ntools:\n  allow: ["fs__*"]\n');
    writeFileSync(join(dir, 'policies', 'alice-copy.yaml'), 'agent: alice\ntools:\n  allow: ["fs__read"]\n');
    writeFileSync(
      join(dir, 'policies', 'bob.yaml'),
      'agent: bob\ntools:\n  allow: ["fs__*"]\nconstraints:\n  - tool: fs__write\n    when: args.path.startsWith("/tmp" &&\n',
    );
    const r = await tollgate(['check', '--config', join(dir, 'tollgate.yaml')]);
    expect(r.code).toBe(1);
    const p = (f: string) => join(dir, 'policies', f);
    expect(r.stderr).toContain(`${p('alice.yaml')}: agent alice is already defined in ${p('alice-copy.yaml')}`);
    expect(r.stderr).toContain(`${p('bob.yaml')}:6:5 constraints.0.when: invalid CEL expression`);
  });
});

describe('tollgate serve and check: a config no agent can authenticate with', () => {
  it('no agent credential at all: serve and check both say so in one line with a hint', async () => {
    const dir = tempDir();
    const file = join(dir, 'tollgate.yaml');
    writeFileSync(file, 'upstreams:\n  a: { transport: stdio, command: node }\naudit: { file: null }\n');
    const served = await tollgate(['serve', '--port', '0', '--config', file]);
    expect(served.code).toBe(1);
    expect(served.stderr).not.toMatch(/\n\s+at /);
    expect(served.stderr.trim().split('\n')).toHaveLength(2); // the problem and the hint
    expect(served.stderr).toContain('tollgate: no agent can authenticate: configure auth.api_keys');
    expect(served.stderr).toContain('hint: make a key with `tollgate key new --agent NAME`');
    const checked = await tollgate(['check', '--config', file]);
    expect(checked.code).toBe(1);
    expect(checked.stderr).toContain(`${file}: no agent can authenticate`);
  });
});

describe('tollgate serve and check: a policies.dir that does not exist', () => {
  it('is one config error naming policies.dir and the folder, before any store is opened', async () => {
    const dir = tempDir();
    const file = join(dir, 'tollgate.yaml');
    const audit = join(dir, 'audit.jsonl');
    writeFileSync(
      file,
      `upstreams:\n  a: { transport: stdio, command: node }\npolicies: { dir: no-such-policies }\naudit: { file: ${audit} }\n`,
    );
    for (const args of [['serve', '--port', '0'], ['check']]) {
      const r = await tollgate([...args, '--config', file]);
      expect(r.code, args[0]).toBe(1);
      expect(r.stderr, args[0]).toContain(`invalid config ${join(dir, 'no-such-policies')}:`);
      expect(r.stderr, args[0]).toMatch(/^ {2}policies\.dir: cannot read the policies folder: ENOENT/m);
      // Nothing before it: serve once warned that the pin file (default: in that folder) cannot be watched.
      expect(r.stderr.trim().split('\n'), args[0]).toHaveLength(2);
      expect(r.stdout, args[0]).not.toMatch(/pin file/);
    }
    expect(existsSync(audit)).toBe(false);
  }, 30_000);
});

describe('tollgate serve: LLM traffic and the banner', () => {
  it('serves LLM traffic only (no MCP upstream): ready, /v1 in the banner, tokenizer loaded at start, key not printed', async () => {
    const dir = tempDir();
    const file = join(dir, 'tollgate.yaml');
    writeFileSync(
      file,
      'auth: { api_keys: [{ agent: bot, key: "${BOT_KEY}" }] }\nllm:\n  upstreams:\n    oa: { kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-x, models: [gpt-4o-mini] }\naudit: { file: null }\n',
    );
    const key = 'bot-secret-key-0123456789';
    // The tokenizer is loaded at start (not on the first call): its log line comes without any call.
    const gw = await serveUntilBanner(['--config', file], { BOT_KEY: key }, /tokenizers loaded/);
    try {
      expect(gw.out).toMatch(/"encodings":\["o200k_base"\].*"msg":"tokenizers loaded"/);
      expect(gw.out).toContain(`Tollgate is listening on ${gw.url} (LLM traffic only: no MCP upstreams)`);
      expect(gw.out).toContain(`LLM API: ${gw.url}/v1`);
      expect(gw.out).not.toContain(key);
      expect(gw.out).toContain('Authorization: Bearer <its API key>');
      expect(gw.out).toMatch(/metrics: http:\/\/127\.0\.0\.1:\d+\/metrics {2}\(OPEN: no metrics\.token set/);
      expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
      const models = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
      expect(((await models.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual(['gpt-4o-mini']);
    } finally {
      await gw.stop();
    }
  }, 60_000);

  it('says how agents really authenticate: keys in policy files, anonymous access, or none yet', async () => {
    // A model no tokenizer is loaded for (the test above covers that): three gateways start lighter.
    const llm =
      'llm:\n  upstreams:\n    oa: { kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-x, models: [local-model] }\naudit: { file: null }\n';
    const dir = tempDir();
    mkdirSync(join(dir, 'policies'));
    mkdirSync(join(dir, 'empty'));
    writeFileSync(
      join(dir, 'policies', 'a.yaml'),
      `agent: a\nidentities:\n  api_key_hashes: ["sha256:${'0'.repeat(64)}"]\n`,
    );
    // keys.yaml also closes /metrics with a token: the banner says how to reach it.
    writeFileSync(join(dir, 'keys.yaml'), `policies: { dir: policies }\nmetrics: { token: metrics-token-123 }\n${llm}`);
    writeFileSync(join(dir, 'anonymous.yaml'), `auth: { allow_anonymous: true }\n${llm}`);
    writeFileSync(join(dir, 'none-yet.yaml'), `policies: { dir: empty }\n${llm}`);
    const banner = async (file: string): Promise<string> => {
      const gw = await serveUntilBanner(['--config', join(dir, file)], {});
      await gw.stop();
      return gw.out;
    };
    const [keys, anonymous, noneYet] = await Promise.all([
      banner('keys.yaml'),
      banner('anonymous.yaml'),
      banner('none-yet.yaml'),
    ]);
    // Keys only in a policy file: no anonymous access, which the gateway does not grant (401 without a key).
    expect(keys).not.toMatch(/anonymous/);
    expect(keys).toContain('/metrics  (Authorization: Bearer <metrics.token>)');
    expect(keys).not.toContain('OPEN');
    expect(keys).toContain(
      'agents with a key in their policy file (1) connect with header:  Authorization: Bearer <its API key>',
    );
    expect(anonymous).toContain('anonymous access: a request without a token acts as agent "anonymous"');
    expect(anonymous).toMatch(/curl http:\/\/\S+\/v1\/models {3}\(OpenAI SDK/); // no header to send
    expect(noneYet).not.toMatch(/anonymous/);
    expect(noneYet).toContain('no agent has a key yet: every request is refused (401) until a policy file lists one');
    const keysCheck = await tollgate(['check', '--config', join(dir, 'keys.yaml')]);
    expect(keysCheck.stdout).toMatch(/OK \(0 upstreams, 1 llm upstream, 0 api keys, 1 policy file with 1 api key\)$/m);
    expect(keysCheck.stderr).not.toMatch(/refused/);
    const noneYetCheck = await tollgate(['check', '--config', join(dir, 'none-yet.yaml')]);
    expect(noneYetCheck.code).toBe(0);
    expect(noneYetCheck.stderr).toMatch(
      /warning: no policy file lists api_key_hashes .*every request is refused \(401\)/,
    );
  }, 90_000);
});

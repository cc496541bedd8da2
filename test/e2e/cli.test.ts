// The `tollgate` binary as an operator runs it.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { connect } from '../helpers/client.js';
import { waitUntil } from '../helpers/wait.js';
import { nodeArgs, nodeArgsYaml } from '../helpers/compiled.js';
import { tempDir } from '../helpers/tmp.js';
import { quickstartEnv } from '../helpers/quickstart.js';
import { serveUntilBanner, type Served } from '../helpers/serve-banner.js';

const run = promisify(execFile);
// The real bin script; the helpers run it from this run's compiled copy (no tsx compile per process).
const BIN = 'bin/tollgate.mjs';

async function tollgate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...nodeArgs(BIN), ...args], {
      env: { ...process.env, TOLLGATE_DEMO_KEY: '' },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe.concurrent('tollgate CLI', () => {
  it('prints help', async () => {
    const r = await tollgate(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/tollgate serve \[--config PATH\]/);
  });

  it('check accepts the quickstart config and warns about the default demo key', async () => {
    const r = await tollgate(['check', '--config', 'examples/quickstart/tollgate.yaml']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/OK \(2 upstreams/);
    expect(r.stderr).toMatch(/TOLLGATE_DEMO_KEY is not set/);
  });

  it('check rejects a broken config naming file, line and key, with exit code 1', async () => {
    const dir = tempDir('tollgate-');
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'upstreams:\n  a:\n    transport: stdio\n    comand: node\nauth: { allow_anonymous: true }\n');
    const r = await tollgate(['check', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}:4:5 upstreams.a.comand`);
    expect(r.stderr).toMatch(/upstreams\.a\.command/);
  });

  it('key new prints a tg_ key and the policy line with its SHA-256', async () => {
    const r = await tollgate(['key', 'new', '--agent', 'alice']);
    expect(r.code).toBe(0);
    const key = /\n {2}(tg_[A-Za-z0-9_-]{43})\n/.exec(r.stdout)?.[1];
    expect(key).toBeDefined();
    const { hashApiKey } = await import('../../src/auth/api-keys.js');
    expect(r.stdout).toContain(`- "${hashApiKey(key!)}"`);
    expect(r.stdout).toContain('policies/alice.yaml');
  });

  it('check validates policy files: broken files fail with file:line, unknown servers warn', async () => {
    const dir = tempDir('tollgate-');
    mkdirSync(join(dir, 'policies'));
    writeFileSync(
      join(dir, 'tollgate.yaml'),
      'upstreams:\n  fs: { transport: stdio, command: node }\npolicies: { dir: policies }\n',
    );
    writeFileSync(join(dir, 'policies', 'a.yaml'), 'agent: a\ntools:\n  allow: ["fs__*", "gihub__*"]\n');
    const ok = await tollgate(['check', '--config', join(dir, 'tollgate.yaml')]);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toMatch(/a\.yaml: tool pattern "gihub__\*" names no configured server/);
    writeFileSync(join(dir, 'policies', 'b.yaml'), 'agent: b\ntools:\n  alow: ["*"]\n');
    const bad = await tollgate(['check', '--config', join(dir, 'tollgate.yaml')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${join(dir, 'policies', 'b.yaml')}:3:3 tools.alow`);
  });

  it('check --connect warns about patterns that match none of the upstream tools', async () => {
    const dir = tempDir('tollgate-');
    mkdirSync(join(dir, 'policies'));
    writeFileSync(
      join(dir, 'tollgate.yaml'),
      `upstreams:\n  feat: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio], cwd: ${process.cwd()} }\npolicies: { dir: policies }\n`,
    );
    writeFileSync(
      join(dir, 'policies', 'a.yaml'),
      'agent: a\ntools:\n  allow: ["feat__echo", "feat__ecco", "feat__sl*"]\n',
    );
    const r = await tollgate(['check', '--connect', '--config', join(dir, 'tollgate.yaml')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/tool pattern "feat__ecco" matches no tool that feat offers/);
    expect(r.stderr).not.toMatch(/feat__echo"|feat__sl\*/);
    expect(r.stdout).toMatch(/1 patterns? matching no upstream name/);
  });

  it('rejects an unknown command with usage', async () => {
    const r = await tollgate(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command: frobnicate/);
  });
});

/** Resolves once `gw` prints `text` on stdout (from now on). */
function logged(gw: Spawned, text: string): Promise<void> {
  return new Promise((resolve) => {
    let seen = '';
    const onData = (d: Buffer) => {
      seen += d.toString();
      if (!seen.includes(text)) return;
      gw.child.stdout!.off('data', onData);
      resolve();
    };
    gw.child.stdout!.on('data', onData);
  });
}

describe('tollgate serve lifecycle', () => {
  const childrenOf = (pid: number): number[] => {
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  // One gateway for both (one gateway and one stdio upstream fewer): the reload is checked first,
  // then SIGTERM ends it. The drain uses an agent of its own whose key every reload keeps.
  describe('one gateway, reloaded on SIGHUP then drained on SIGTERM', () => {
    let gw: Spawned;
    let cfg: string;
    const write = (key: string) =>
      writeFileSync(
        cfg,
        `upstreams:\n  feat: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio], cwd: ${process.cwd()} }\n` +
          `auth: { api_keys: [{ agent: a, key: ${key} }, { agent: d, key: drain-key-0123456789 }] }\naudit: { file: null }\n`,
      );
    beforeAll(async () => {
      cfg = join(tempDir('tollgate-'), 'tollgate.yaml');
      write('first-key-0123456789');
      gw = await spawnListening([BIN, 'serve', '--config', cfg, '--port', '0']);
    });
    afterAll(async () => gw?.kill());

    it('reloads the config on SIGHUP (new agent keys apply) and keeps serving on a broken file', async () => {
      const status = (key: string) =>
        fetch(`http://127.0.0.1:${gw.port}/mcp`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json' },
          body: '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}',
        }).then((r) => r.status);
      expect(await status('first-key-0123456789')).toBe(200);
      write('second-key-0123456789');
      // The gateway logs each reload once it has applied it (or rejected it): no polling.
      const reloaded = logged(gw, 'config reloaded');
      gw.child.kill('SIGHUP');
      await reloaded;
      expect(await status('second-key-0123456789')).toBe(200);
      expect(await status('first-key-0123456789')).toBe(401);
      writeFileSync(cfg, 'upstreams: [broken\n');
      const rejected = logged(gw, 'config reload rejected');
      gw.child.kill('SIGHUP');
      await rejected;
      expect(await status('second-key-0123456789')).toBe(200);
      expect(gw.child.exitCode).toBeNull();
    });

    it('drains on SIGTERM: a call in flight still gets its answer, then the process exits 0', async () => {
      const client = await connect(`http://127.0.0.1:${gw.port}/mcp`, { key: 'drain-key-0123456789' });
      const exited = new Promise<string>((r) => gw.child.once('exit', (code, sig) => r(`${code}/${sig}`)));
      let signalled = false;
      const result = await client.callTool({ name: 'feat__slow', arguments: { ms: 1000 } }, undefined, {
        onprogress: () => {
          if (signalled) return;
          signalled = true;
          gw.child.kill('SIGTERM'); // mid-call
        },
      });
      expect(signalled).toBe(true);
      expect(JSON.stringify(result)).toContain('slow done');
      expect(await exited).toBe('0/null');
    });
  });

  it('leaves no pooled stdio children behind, even when the gateway is killed with SIGKILL', async () => {
    const dir = tempDir('tollgate-');
    writeFileSync(
      join(dir, 'tollgate.yaml'),
      `upstreams:\n  feat: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio], cwd: ${process.cwd()}, isolation: per_session }\n` +
        `auth: { api_keys: [{ agent: a, key: pool-key-0123456789 }] }\naudit: { file: null }\n`,
    );
    const gw = await spawnListening([BIN, 'serve', '--config', join(dir, 'tollgate.yaml'), '--port', '0']);
    const agents = [
      await connect(`http://127.0.0.1:${gw.port}/mcp`, { key: 'pool-key-0123456789' }),
      await connect(`http://127.0.0.1:${gw.port}/mcp`, { key: 'pool-key-0123456789' }),
    ];
    for (const a of agents) await a.callTool({ name: 'feat__echo', arguments: { text: 'x' } });
    const kids = childrenOf(gw.child.pid!);
    expect(kids.length).toBe(3); // the catalog's process and one per agent session
    await gw.kill(); // SIGKILL: no exit hook runs; the children see their stdin close
    await waitUntil(() => kids.every((k) => !alive(k)), 10_000);
  });

  /** Stops `gw` with `signal`: it exits 0 and its two stdio servers (the quickstart's) go with it. */
  async function stopsCleanly(gw: Served, signal: 'SIGTERM' | 'SIGINT'): Promise<void> {
    const kids = childrenOf(gw.child.pid!);
    expect(kids.length).toBe(2); // the quickstart's two stdio servers
    const exited = new Promise<string>((r) => gw.child.once('exit', (code, sig) => r(`${code}/${sig}`)));
    gw.child.kill(signal);
    expect(await exited).toBe('0/null');
    await waitUntil(() => kids.every((k) => !alive(k)));
  }
  const QUICKSTART = ['--config', 'examples/quickstart/tollgate.yaml'];

  // One quickstart gateway per test (each starts two npm MCP servers): what it serves and says, then how it stops.
  it('serves the quickstart: two real npm MCP servers behind /mcp, the demo key works and is flagged as the demo key; stops on SIGTERM and leaves no stdio children behind', async () => {
    const gw = await serveUntilBanner(QUICKSTART, { TOLLGATE_DEMO_KEY: '', ...quickstartEnv() });
    try {
      expect(gw.out).not.toContain('LLM API');
      expect(gw.out).toMatch(/Authorization: Bearer demo-key {2}\(the demo key/);
      const client = await connect(`${gw.url}/mcp`, { key: 'demo-key' });
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toContain('everything__echo');
      expect(names).toContain('memory__read_graph');
      await client.close();
      await stopsCleanly(gw, 'SIGTERM');
    } finally {
      await gw.stop();
    }
  });

  it('the quickstart serves /v1 when OPENAI_API_KEY is set and says so; stops on SIGINT and leaves no stdio children behind', async () => {
    const gw = await serveUntilBanner(QUICKSTART, {
      TOLLGATE_DEMO_KEY: '',
      ...quickstartEnv(),
      OPENAI_API_KEY: 'sk-quickstart',
    });
    try {
      expect(gw.out).toContain(`LLM API: ${gw.url}/v1`);
      expect(gw.out).toMatch(/models: gpt-4o-mini, gpt-4o, text-embedding-3-small/);
      expect(gw.out).not.toContain('sk-quickstart');
      const models = await fetch(`${gw.url}/v1/models`, { headers: { authorization: 'Bearer demo-key' } });
      expect(models.status).toBe(200);
      await stopsCleanly(gw, 'SIGINT');
    } finally {
      await gw.stop();
    }
  });
});

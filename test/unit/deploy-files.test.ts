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
  const compose = parse(read('examples/compose/docker-compose.yaml')) as { services: Record<string, Record<string, unknown>> };
  it('runs the gateway with Redis and an MCP server, config and policies mounted', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['everything', 'redis', 'tollgate']);
    const gw = compose.services.tollgate!;
    expect(gw.ports).toContain('8080:8080');
    expect(JSON.stringify(gw.volumes)).toMatch(/tollgate\.yaml:\/etc\/tollgate\/tollgate\.yaml/);
    expect(JSON.stringify(gw.volumes)).toMatch(/policies:\/etc\/tollgate\/policies/);
  });
  it('carries a config Tollgate accepts', () => {
    const { config } = parseConfigText(read('examples/compose/tollgate.yaml'), `${process.cwd()}/examples/compose/tollgate.yaml`, env);
    expect(config.limits.store).toBe('redis');
    expect(config.upstreams.map((u) => u.name)).toEqual(['everything']);
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

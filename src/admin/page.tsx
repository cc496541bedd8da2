// The admin web page, rendered on the server (hono/jsx escapes every text and attribute). The one
// inline script carries the page's nonce and reads its settings from a JSON block, never from markup.
import { AUDIT_DECISIONS, AUDIT_FIELDS, type AuditLine } from '../audit/record.js';
import { CLIENT_JS } from './client.js';
import { decisionLabel, Filters, RecordsTable } from './records.js';
import { ChartsSection } from './charts.js';
import type { ChartData } from '../audit/charts.js';
import type { UpstreamStatus, UsageLimit } from './routes.js';
import { Logo, Shell, SignOut } from './shell.js';

export interface AgentUsage {
  agent: string;
  limits: UsageLimit[];
  error?: string;
}

const num = new Intl.NumberFormat('en-US');

function duration(ms: number): string {
  const units: Array<[number, string]> = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ];
  for (const [size, unit] of units) if (ms >= size) return `${Math.round((ms / size) * 10) / 10} ${unit}`;
  return `${Math.max(0, Math.round(ms))} ms`;
}

const STATE_CLASS: Record<string, string> = { ready: 'good', connecting: 'warn', down: 'bad', disabled: 'idle' };

function Upstreams(props: { upstreams: UpstreamStatus[] }) {
  const ready = props.upstreams.filter((u) => u.state === 'ready').length;
  return (
    <section class="card" aria-labelledby="h-upstreams">
      <div class="card-head">
        <h2 id="h-upstreams">Upstreams</h2>
        <span class="muted">
          {ready} of {props.upstreams.length} ready
        </span>
      </div>
      {props.upstreams.length === 0 && <p class="muted">No upstream configured.</p>}
      <ul class="upstreams">
        {props.upstreams.map((u) => (
          <li>
            <div class="up-main">
              <span class={`dot ${STATE_CLASS[u.state] ?? 'warn'}`} />
              <strong>{u.name}</strong>
              <span class="chip">{u.transport}</span>
              <span class={`badge s-${STATE_CLASS[u.state] ?? 'warn'}`}>{u.state}</span>
            </div>
            <div class="up-meta muted">
              {u.tools} tools · {u.prompts} prompts · {u.resources} resources
              {u.ownSessions !== undefined && ` · ${u.ownSessions} own sessions`}
            </div>
            {u.replicas && (
              <ul class="replicas muted">
                {u.replicas.map((r) => (
                  <li>
                    <span class={`dot ${r.state === 'ready' && r.healthy && !r.ejected ? 'good' : 'bad'}`} /> {r.url} ·{' '}
                    {r.state}
                    {!r.healthy && ' · failing checks'}
                    {r.ejected && ' · ejected'} · {r.sessions} sessions
                  </li>
                ))}
              </ul>
            )}
            {u.error && u.state !== 'ready' && <div class="up-error">{u.error}</div>}
          </li>
        ))}
      </ul>
    </section>
  );
}

function LimitBar(props: { l: UsageLimit }) {
  const { l } = props;
  const pct = l.limit > 0 ? Math.min(100, (l.used / l.limit) * 100) : 100;
  const level = pct >= 90 ? 'bad' : pct >= 70 ? 'warn' : 'good';
  const foot = [
    l.kind === 'concurrency' ? 'in flight now' : l.periodMs !== undefined ? `per ${duration(l.periodMs)}` : l.kind,
    l.resetMs !== undefined && l.used > 0 ? `resets in ${duration(l.resetMs)}` : undefined,
  ].filter((s) => s !== undefined);
  return (
    <div class="limit">
      <div class="limit-head">
        <span>
          {l.name} <span class="chip">{l.kind}</span>
        </span>
        <span class="num">
          {num.format(l.used)} / {num.format(l.limit)} <b>{Math.round(pct)}%</b>
        </span>
      </div>
      <div
        class="bar"
        role="meter"
        aria-valuemin={0}
        aria-valuemax={l.limit}
        aria-valuenow={l.used}
        aria-label={`${l.name}: ${l.used} of ${l.limit}`}
      >
        <div class={`fill ${level}`} style={`width:${pct.toFixed(1)}%`} />
      </div>
      <div class="limit-foot muted">{foot.join(' · ')}</div>
    </div>
  );
}

function Usage(props: { usage: AgentUsage[] }) {
  return (
    <section class="card" aria-labelledby="h-usage">
      <div class="card-head">
        <h2 id="h-usage">Usage against budgets</h2>
      </div>
      {props.usage.length === 0 && <p class="muted">No agent known yet.</p>}
      <div class="agents">
        {props.usage.map((a) => (
          <div class="agent-usage">
            <div class="agent-name">
              <a href={`/admin/?agent=${encodeURIComponent(a.agent)}`}>{a.agent}</a>
            </div>
            {a.error && <div class="up-error">usage unavailable: {a.error}</div>}
            {!a.error && a.limits.length === 0 && <div class="muted small">No limits apply.</div>}
            {a.limits.map((l) => (
              <LimitBar l={l} />
            ))}
          </div>
        ))}
      </div>
    </section>
  );
}

/** JSON inside <script>: `<` escaped so no string can close the element. */
const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c');

export interface AdminPageProps {
  name: string;
  nonce: string;
  now: number;
  params: URLSearchParams;
  problems: string[];
  auditEnabled: boolean;
  page: { records: AuditLine[]; nextCursor?: string; error?: string };
  agents: string[];
  usage: AgentUsage[];
  upstreams: UpstreamStatus[];
  /** The tool pins section, when pinning is on. */
  pins?: unknown;
  /** Charts for the selected time range. */
  charts?: { data?: ChartData; error?: string; rangeLabel: string };
  /** Instances known to the fleet store (audit.postgres): the page offers a filter by instance. */
  instances?: string[];
  /** The approvals section (live). */
  approvals?: unknown;
  /** Upstream connections (per-user credentials), when an upstream uses oauth. */
  connections?: unknown;
}

export function AdminPage(props: AdminPageProps) {
  const filters = new URLSearchParams(props.params);
  filters.delete('cursor');
  filters.delete('limit');
  const filtered = [...filters.keys()].length > 0;
  const older = new URLSearchParams(filters);
  if (props.page.nextCursor) older.set('cursor', props.page.nextCursor);
  const paged = props.params.has('cursor');
  const config = {
    stream: `/admin/audit/stream?${filters.toString()}`,
    live: !paged,
    reload: '/admin/policies/reload',
    maxRows: 500,
    fields: [...AUDIT_FIELDS, 'prev'],
    labels: Object.fromEntries(AUDIT_DECISIONS.map((d) => [d, decisionLabel(d)])),
  };
  return (
    <Shell title={`${props.name} · admin`}>
      <header class="top">
        <div class="brand">
          <Logo /> {props.name} <span class="brand-sub">admin</span>
        </div>
        <div class="top-actions">
          <span id="live-state" class="live off" aria-live="polite">
            Paused
          </span>
          <button
            id="live-toggle"
            type="button"
            class="btn dark"
            disabled={paged}
            title={paged ? 'Live tail follows the newest records: go back to the newest page' : ''}
          >
            Go live
          </button>
          <button id="reload-policies" type="button" class="btn dark">
            Reload policies
          </button>
          <SignOut />
        </div>
      </header>
      <div id="toast" class="toast" role="status" hidden />
      <main class="wrap">
        <div class="grid">
          <Upstreams upstreams={props.upstreams} />
          <Usage usage={props.usage} />
        </div>
        {props.approvals}
        {props.pins}
        {props.charts && <ChartsSection {...props.charts} />}
        {props.connections}
        <section class="card" aria-labelledby="h-audit">
          <div class="card-head">
            <h2 id="h-audit">Audit log</h2>
            <span class="muted" id="count">
              {props.page.records.length} record{props.page.records.length === 1 ? '' : 's'}, newest first · click a row
              for details
            </span>
          </div>
          <Filters
            params={props.params}
            agents={props.agents}
            {...(props.instances ? { instances: props.instances } : {})}
          />
          {props.problems.map((p) => (
            <p class="alert">{p}</p>
          ))}
          {props.page.error && <p class="alert">Could not read the audit log: {props.page.error}</p>}
          <RecordsTable records={props.page.records} auditEnabled={props.auditEnabled} filtered={filtered} />
          <nav class="pager">
            {paged && (
              <a class="btn ghost" href={`/admin/?${filters.toString()}`}>
                ← Newest
              </a>
            )}
            {props.page.nextCursor && (
              <a class="btn ghost" href={`/admin/?${older.toString()}`}>
                Older →
              </a>
            )}
          </nav>
        </section>
      </main>
      <script type="application/json" id="tg-config" dangerouslySetInnerHTML={{ __html: scriptJson(config) }} />
      <script nonce={props.nonce} dangerouslySetInnerHTML={{ __html: CLIENT_JS }} />
    </Shell>
  );
}

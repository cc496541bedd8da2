// The audit part of the page: filter form, the records table (a click shows a record in full), paging.
// The live-tail script builds rows with the same classes (see client.ts): keep the two in step.
import { AUDIT_DECISIONS, AUDIT_FIELDS, type AuditLine } from '../audit/record.js';
import { targetOf } from '../audit/query.js';

export const SINCE_PRESETS: ReadonlyArray<[string, string]> = [
  ['', 'Any time'],
  ['15m', 'Last 15 minutes'],
  ['1h', 'Last hour'],
  ['6h', 'Last 6 hours'],
  ['24h', 'Last 24 hours'],
  ['7d', 'Last 7 days'],
];

const DECISION_LABELS: Record<string, string> = {
  allowed: 'Allowed',
  denied: 'Denied',
  rate_limited: 'Rate limited',
  budget_exceeded: 'Over budget',
  error: 'Error',
  approval_requested: 'Approval asked',
  approval_approved: 'Approved',
  approval_denied: 'Approval denied',
  approval_timed_out: 'Approval timed out',
  approval_withdrawn: 'Approval withdrawn',
  approval_void: 'Approval void',
};

export const decisionLabel = (d: string): string => DECISION_LABELS[d] ?? d;

export function Filters(props: { params: URLSearchParams; agents: string[]; instances?: string[] }) {
  const p = (k: string) => props.params.get(k) ?? '';
  const since = p('since');
  const presets = SINCE_PRESETS.some(([v]) => v === since)
    ? SINCE_PRESETS
    : [...SINCE_PRESETS, [since, `Since ${since}`] as [string, string]];
  const active = ['agent', 'tool', 'server', 'instance', 'decision', 'since', 'until'].some((k) => p(k) !== '');
  return (
    <form class="filters" method="get" action="/admin/" role="search">
      <label>
        <span>Agent</span>
        <input name="agent" list="agent-list" value={p('agent')} placeholder="any agent" autocomplete="off" />
        <datalist id="agent-list">
          {props.agents.map((a) => (
            <option value={a} />
          ))}
        </datalist>
      </label>
      <label>
        <span>Tool or resource</span>
        <input name="tool" value={p('tool')} placeholder="e.g. github__*" autocomplete="off" />
      </label>
      {props.instances !== undefined && (
        <label>
          <span>Instance</span>
          <input
            name="instance"
            list="instance-list"
            value={p('instance')}
            placeholder="every instance"
            autocomplete="off"
          />
          <datalist id="instance-list">
            {props.instances.map((a) => (
              <option value={a} />
            ))}
          </datalist>
        </label>
      )}
      <label>
        <span>Decision</span>
        <select name="decision">
          <option value="">Any decision</option>
          {AUDIT_DECISIONS.map((d) => (
            <option value={d} selected={p('decision') === d}>
              {decisionLabel(d)}
            </option>
          ))}
        </select>
      </label>
      <label>
        <span>Time</span>
        <select name="since">
          {presets.map(([v, label]) => (
            <option value={v} selected={since === v}>
              {label}
            </option>
          ))}
        </select>
      </label>
      {p('server') !== '' && <input type="hidden" name="server" value={p('server')} />}
      <div class="filter-actions">
        <button type="submit" class="btn primary">
          Apply
        </button>
        {active && (
          <a class="btn ghost" href="/admin/">
            Clear
          </a>
        )}
      </div>
    </form>
  );
}

const formatMs = (ms: number | null): string =>
  ms === null
    ? '–'
    : ms < 10
      ? `${ms.toFixed(1)} ms`
      : ms < 10_000
        ? `${Math.round(ms)} ms`
        : `${(ms / 1000).toFixed(1)} s`;

const shownTime = (iso: string): string => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');

function Detail(props: { r: AuditLine }) {
  const { r } = props;
  const shown = [...AUDIT_FIELDS, 'prev' as const].filter(
    (k) => r[k] !== null && r[k] !== undefined && k !== 'tollgate.request.arguments',
  );
  const args = r['tollgate.request.arguments'];
  return (
    <tr class="detail" hidden>
      <td colspan={7}>
        <div class="detail-body">
          <dl class="kv">
            {shown.map((k) => (
              <>
                <dt>{k}</dt>
                <dd>{String(r[k])}</dd>
              </>
            ))}
          </dl>
          <div class="args">
            <h4>Arguments</h4>
            <pre>{args === null || args === undefined ? 'none' : JSON.stringify(args, null, 2)}</pre>
          </div>
        </div>
      </td>
    </tr>
  );
}

export function RecordRows(props: { records: AuditLine[] }) {
  return (
    <>
      {props.records.map((r) => {
        const decision = r['tollgate.decision'];
        const outcome = r['tollgate.outcome'];
        return (
          <>
            <tr
              class="rec"
              tabindex={0}
              aria-expanded="false"
              data-id={r['tollgate.record.id']}
              data-agent={r['gen_ai.agent.id']}
            >
              <td class="time">
                <time datetime={r.timestamp}>{shownTime(r.timestamp)}</time>
              </td>
              <td class="agent">{r['gen_ai.agent.id']}</td>
              <td class="method">{r['mcp.method.name'] ?? r['gen_ai.operation.name'] ?? '–'}</td>
              <td class="target">
                {targetOf(r)}
                {decision !== 'allowed' && r['tollgate.decision_reason'] && (
                  <div class="reason">{r['tollgate.decision_reason']}</div>
                )}
              </td>
              <td>
                <span class={`badge d-${decision}`}>{decisionLabel(decision)}</span>
              </td>
              <td>
                {/* A refused call's outcome follows from its decision: only an allowed call's failure stands out. */}
                <span class={`outcome o-${decision === 'allowed' ? outcome : 'after-refusal'}`}>
                  {outcome.replace('_', ' ')}
                </span>
              </td>
              <td class="num">{formatMs(r['tollgate.latency.total_ms'])}</td>
            </tr>
            <Detail r={r} />
          </>
        );
      })}
    </>
  );
}

export function RecordsTable(props: { records: AuditLine[]; auditEnabled: boolean; filtered: boolean }) {
  const empty = !props.auditEnabled
    ? 'The audit log is off (set audit.file in the config). Live records still appear here.'
    : props.filtered
      ? 'No record matches these filters.'
      : 'No record yet. Calls made through the gateway appear here.';
  return (
    <div class="table-wrap">
      <table class="records">
        <thead>
          <tr>
            <th>Time</th>
            <th>Agent</th>
            <th>Method</th>
            <th>Tool / resource</th>
            <th>Decision</th>
            <th>Outcome</th>
            <th class="num">Latency</th>
          </tr>
        </thead>
        <tbody id="rows">
          {props.records.length === 0 ? (
            <tr class="empty">
              <td colspan={7}>{empty}</td>
            </tr>
          ) : (
            <RecordRows records={props.records} />
          )}
        </tbody>
      </table>
    </div>
  );
}

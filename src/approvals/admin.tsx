// Approvals on the admin API and page: `GET /admin/approvals` lists pending and recent ones (from
// the shared store, so every instance shows them all), `POST /admin/approvals/<id>` decides one with
// `{"decision": "approve" | "deny", "reason": "...", "sha256": "..."}`. The page's section refreshes
// itself every two seconds and decides with the same POST (same-origin, CSRF-checked by Origin).
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { readBody } from '../http/node-io.js';
import { errorResponse } from '../http/respond.js';
import { mayApprove, type ApproverIdentity } from './approver.js';
import type { ApprovalService } from './service.js';
import type { Approval } from './store.js';

const MAX_DECISION_BYTES = 8 * 1024;
const MAX_REASON_CHARS = 500;
const ID = /^apr_[A-Za-z0-9_-]{16}$/;

type Parsed = { decision: 'approve' | 'deny'; reason: string | undefined; sha256: string | undefined } | string;

function parseDecision(body: string): Parsed {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return 'the body must be JSON';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'the body must be a JSON object';
  const o = v as Record<string, unknown>;
  if (o.decision !== 'approve' && o.decision !== 'deny') return 'decision must be "approve" or "deny"';
  if (o.reason !== undefined && (typeof o.reason !== 'string' || o.reason.length > MAX_REASON_CHARS))
    return `reason must be a string of at most ${MAX_REASON_CHARS} characters`;
  if (o.sha256 !== undefined && (typeof o.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(o.sha256)))
    return 'sha256 must be 64 hex digits';
  const reason = typeof o.reason === 'string' && o.reason.trim() !== '' ? o.reason.trim() : undefined;
  return { decision: o.decision, reason, sha256: o.sha256 as string | undefined };
}

/** An approval as the admin side shows it: without the groups of the user who decided. */
const listed = ({ decidedByGroups: _, ...a }: Approval): Omit<Approval, 'decidedByGroups'> => a;

export function mountApprovalRoutes(
  api: Hono,
  svc: ApprovalService,
  mw: {
    csrf: MiddlewareHandler;
    /** Who asks: an admin token, a user signed in with their account, or nobody (401). */
    approver: (c: Context) => Promise<ApproverIdentity | undefined>;
    unauthorized: (c: Context) => Response;
  },
): void {
  api.get('/approvals', async (c) => {
    const who = await mw.approver(c);
    if (!who) return mw.unauthorized(c);
    try {
      // A user sees only what they may decide (an admin token, everything).
      const mine = (await svc.store.list()).filter((a) => mayApprove(who, a.approvers));
      return c.json({ approvals: mine.map(listed) });
    } catch (err) {
      return errorResponse(c, 'upstream_unavailable', `the approvals store is unavailable: ${(err as Error).message}`);
    }
  });
  api.post('/approvals/:id', mw.csrf, async (c) => {
    const who = await mw.approver(c);
    if (!who) return mw.unauthorized(c);
    const id = c.req.param('id');
    if (!ID.test(id)) return errorResponse(c, 'invalid_params', 'not an approval id');
    const body = await readBody(c, MAX_DECISION_BYTES).catch(() => undefined);
    if (body === undefined)
      return errorResponse(c, 'payload_too_large', `a decision is limited to ${MAX_DECISION_BYTES} bytes`);
    const d = parseDecision(body);
    if (typeof d === 'string') return errorResponse(c, 'invalid_params', d);
    // decide.ts refuses (403) an approval whose rule does not name this user or their groups.
    const r = await svc.decide(id, who, d.decision, d.reason, d.sha256).catch((err: Error) => err);
    if (r instanceof Error)
      return errorResponse(c, 'upstream_unavailable', `the approvals store is unavailable: ${r.message}`);
    if (!r.ok) return c.json({ error: r.error, ...(r.approval ? { approval: listed(r.approval) } : {}) }, r.status);
    return c.json({ approval: listed(r.approval) });
  });
}

const CSS = `
.apr { border-top: 1px solid var(--line); padding: 12px 0; }
.apr-head { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
.apr-act { display: flex; gap: 6px; margin: 8px 0 0; align-items: center; flex-wrap: wrap; }
.apr-act input { min-width: 260px; }
.apr pre { margin: 8px 0 0; padding: 10px 12px; background: var(--head); color: #d6dcec; border-radius: 8px; font: 12px/1.5 var(--mono); white-space: pre-wrap; word-break: break-word; max-height: 240px; overflow: auto; }
`;

/** Builds the list with textContent only (agent-supplied arguments are never HTML). */
const SCRIPT = `(() => {
  'use strict';
  const list = document.getElementById('approvals-list');
  const count = document.getElementById('approvals-count');
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
  const when = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false });
  const decide = async (a, decision, reason, btn) => {
    btn.disabled = true;
    try {
      const res = await fetch('/admin/approvals/' + encodeURIComponent(a.id), {
        method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ decision, reason, sha256: a.sha256 }),
      });
      if (!res.ok) { const b = await res.json().catch(() => ({})); alert((b.error && (b.error.message || b.error)) || res.statusText); }
    } finally { refresh(); }
  };
  const row = (a) => {
    const div = el('div', 'apr');
    div.id = 'approval-' + a.id;
    div.dataset.id = a.id;
    div.dataset.status = a.status;
    const head = el('div', 'apr-head');
    head.append(el('strong', '', a.tool), el('span', 'muted', 'agent ' + a.agent),
      el('span', 'badge ' + (a.status === 'pending' ? 's-warn' : a.status === 'approved' ? 's-good' : 's-bad'), a.status.replace('_', ' ')),
      el('span', 'muted small', 'asked ' + when(a.requestedAt) + (a.status === 'pending' ? ' \\u00b7 expires ' + when(a.expiresAt) : '') + ' \\u00b7 ' + a.holder));
    div.append(head);
    if (a.message) div.append(el('p', '', a.message));
    if (a.description) div.append(el('p', 'muted small', a.description));
    div.append(el('pre', 'apr-args', JSON.stringify(a.args, null, 2)));
    if (a.status === 'pending') {
      const act = el('div', 'apr-act');
      const reason = el('input');
      reason.placeholder = 'reason (optional)';
      reason.name = 'reason';
      reason.maxLength = 500;
      const ok = el('button', 'btn primary', 'Approve');
      const no = el('button', 'btn', 'Deny');
      ok.type = no.type = 'button';
      ok.addEventListener('click', () => decide(a, 'approve', reason.value, ok));
      no.addEventListener('click', () => decide(a, 'deny', reason.value, no));
      act.append(reason, ok, no);
      div.append(act);
    } else {
      div.append(el('p', 'muted small', (a.decidedBy ? 'by ' + a.decidedBy : '') + (a.reason ? ' \\u2014 ' + a.reason : '')));
    }
    return div;
  };
  let shown = '';
  const refresh = async () => {
    try {
      const res = await fetch('/admin/approvals', { credentials: 'same-origin' });
      if (!res.ok) return;
      const body = await res.json();
      const text = JSON.stringify(body.approvals);
      if (text === shown) return; // keep a half-typed reason
      const typing = document.activeElement && list.contains(document.activeElement);
      if (typing && body.approvals.some((a) => a.id === document.activeElement.closest('.apr').dataset.id && a.status === 'pending')) return;
      shown = text;
      const pending = body.approvals.filter((a) => a.status === 'pending').length;
      count.textContent = pending + ' waiting \\u00b7 ' + (body.approvals.length - pending) + ' decided recently';
      list.replaceChildren(...body.approvals.map(row));
      if (body.approvals.length === 0) list.append(el('p', 'muted', 'No tool call is waiting for approval.'));
    } catch (err) { console.error(err); }
  };
  refresh();
  setInterval(refresh, 2000);
})();`;

export function ApprovalsSection(props: { nonce: string }) {
  return (
    <section class="card" id="approvals" aria-labelledby="h-approvals">
      <style dangerouslySetInnerHTML={{ __html: CSS }} />
      <div class="card-head">
        <h2 id="h-approvals">Approvals</h2>
        <span class="muted" id="approvals-count" aria-live="polite">
          loading…
        </span>
      </div>
      <div id="approvals-list" />
      <script nonce={props.nonce} dangerouslySetInnerHTML={{ __html: SCRIPT }} />
    </section>
  );
}

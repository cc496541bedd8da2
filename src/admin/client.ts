// The page's one inline script (allowed by the CSP nonce): row details, local times, the live tail,
// and the policy reload button. Plain browser JS, no build step. Records are put in the DOM with
// textContent only, never as HTML.
export const CLIENT_JS = `(() => {
  'use strict';
  const cfg = JSON.parse(document.getElementById('tg-config').textContent);
  const rows = document.getElementById('rows');
  const liveState = document.getElementById('live-state');
  const liveToggle = document.getElementById('live-toggle');
  const count = document.getElementById('count');
  const toastEl = document.getElementById('toast');

  const toggle = (tr) => {
    const d = tr.nextElementSibling;
    if (!d || !d.classList.contains('detail')) return;
    d.hidden = !d.hidden;
    tr.setAttribute('aria-expanded', String(!d.hidden));
  };
  rows.addEventListener('click', (e) => {
    const tr = e.target.closest('tr.rec');
    if (tr && !window.getSelection().toString()) toggle(tr);
  });
  rows.addEventListener('keydown', (e) => {
    if ((e.key === 'Enter' || e.key === ' ') && e.target.matches('tr.rec')) { e.preventDefault(); toggle(e.target); }
  });

  // Times arrive in UTC; show them in the viewer's zone (date only when not today).
  const today = new Date().toDateString();
  const localize = (t) => {
    const d = new Date(t.getAttribute('datetime'));
    if (isNaN(d)) return;
    const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
    t.textContent = d.toDateString() === today ? time : d.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ' ' + time;
    t.title = d.toString();
  };
  document.querySelectorAll('time[datetime]').forEach(localize);

  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const ms = (v) => v === null || v === undefined ? '\\u2013' : v < 10 ? v.toFixed(1) + ' ms' : v < 10000 ? Math.round(v) + ' ms' : (v / 1000).toFixed(1) + ' s';
  const target = (r) => r['gen_ai.tool.name'] || r['gen_ai.prompt.name'] || r['mcp.resource.uri'] || r['gen_ai.request.model'] || r['mcp.method.name'] || '-';

  const buildRows = (r) => {
    const tr = el('tr', 'rec new');
    tr.tabIndex = 0;
    tr.setAttribute('aria-expanded', 'false');
    tr.dataset.id = r['tollgate.record.id'];
    tr.dataset.agent = r['gen_ai.agent.id'];
    const timeTd = el('td', 'time');
    const t = el('time', '', r.timestamp);
    t.setAttribute('datetime', r.timestamp);
    localize(t);
    timeTd.append(t);
    const target_ = el('td', 'target', target(r));
    if (r['tollgate.decision'] !== 'allowed' && r['tollgate.decision_reason']) target_.append(el('div', 'reason', r['tollgate.decision_reason']));
    const dec = el('td');
    dec.append(el('span', 'badge d-' + r['tollgate.decision'], cfg.labels[r['tollgate.decision']] || r['tollgate.decision']));
    const out = el('td');
    out.append(el('span', 'outcome o-' + (r['tollgate.decision'] === 'allowed' ? r['tollgate.outcome'] : 'after-refusal'), String(r['tollgate.outcome']).replace('_', ' ')));
    tr.append(timeTd, el('td', 'agent', r['gen_ai.agent.id']), el('td', 'method', r['mcp.method.name'] || r['gen_ai.operation.name'] || '\\u2013'),
      target_, dec, out, el('td', 'num', ms(r['tollgate.latency.total_ms'])));

    const detail = el('tr', 'detail');
    detail.hidden = true;
    const td = el('td');
    td.colSpan = 7;
    const body = el('div', 'detail-body');
    const kv = el('dl', 'kv');
    for (const k of cfg.fields) {
      const v = r[k];
      if (v === null || v === undefined || k === 'tollgate.request.arguments') continue;
      kv.append(el('dt', '', k), el('dd', '', String(v)));
    }
    const args = el('div', 'args');
    const a = r['tollgate.request.arguments'];
    args.append(el('h4', '', 'Arguments'), el('pre', '', a === null || a === undefined ? 'none' : JSON.stringify(a, null, 2)));
    body.append(kv, args);
    td.append(body);
    detail.append(td);
    return [tr, detail];
  };

  let added = 0;
  const prepend = (r) => {
    const empty = rows.querySelector('tr.empty');
    if (empty) empty.remove();
    const [tr, detail] = buildRows(r);
    rows.prepend(tr, detail);
    while (rows.children.length > 2 * cfg.maxRows) rows.lastElementChild.remove();
    added++;
    count.textContent = added + ' new since the page loaded \\u00b7 newest first \\u00b7 click a row for details';
  };

  let source = null;
  const setState = (cls, text) => { liveState.className = 'live ' + cls; liveState.textContent = text; };
  const start = () => {
    source = new EventSource(cfg.stream);
    source.onopen = () => setState('on', 'Live');
    source.onerror = () => setState('err', 'Reconnecting\\u2026');
    source.onmessage = (e) => { try { prepend(JSON.parse(e.data)); } catch (err) { console.error(err); } };
    liveToggle.textContent = 'Pause';
    setState('err', 'Connecting\\u2026');
  };
  const stop = () => {
    if (source) source.close();
    source = null;
    liveToggle.textContent = 'Go live';
    setState('off', 'Paused');
  };
  const wanted = () => { try { return localStorage.getItem('tollgate.live') !== 'off'; } catch { return true; } };
  liveToggle.addEventListener('click', () => {
    if (source) stop(); else start();
    try { localStorage.setItem('tollgate.live', source ? 'on' : 'off'); } catch {}
  });
  if (cfg.live && wanted()) start();

  let toastTimer;
  const toast = (text, bad) => {
    toastEl.textContent = text;
    toastEl.className = 'toast' + (bad ? ' bad' : '');
    toastEl.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toastEl.hidden = true; }, bad ? 9000 : 3500);
  };
  document.getElementById('reload-policies').addEventListener('click', async () => {
    try {
      const res = await fetch(cfg.reload, { method: 'POST', credentials: 'same-origin' });
      const body = await res.json().catch(() => ({}));
      if (res.ok) toast('Policies reloaded.');
      else toast('Policies not reloaded:\\n' + ((body.problems || [body.error && body.error.message || res.statusText]).join('\\n')), true);
    } catch (err) { toast('Policies not reloaded: ' + err.message, true); }
  });
})();`;

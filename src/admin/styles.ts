// The admin page's stylesheet, inlined (no build step, no extra request; CSP allows inline style).
export const CSS = `
:root {
  --bg: #f4f5f7; --card: #fff; --ink: #1c2230; --muted: #6b7385; --line: #e6e8ee;
  --head: #141a26; --head-ink: #e9ecf2; --accent: #4f6bed; --accent-ink: #fff;
  --good: #1f9d55; --good-bg: #e5f6ec; --warn: #c77c02; --warn-bg: #fdf2dc;
  --bad: #d0342c; --bad-bg: #fde8e6; --idle: #8a90a0; --idle-bg: #eef0f4; --violet: #7a4cc2; --violet-bg: #f1eafb;
  --radius: 10px; --mono: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
h2 { font-size: 15px; margin: 0; letter-spacing: .01em; white-space: nowrap; }
h4 { margin: 0 0 6px; font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); }
.muted { color: var(--muted); }
.small { font-size: 12px; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }

.top {
  position: sticky; top: 0; z-index: 5; display: flex; align-items: center; justify-content: space-between;
  gap: 16px; padding: 12px 28px; background: var(--head); color: var(--head-ink); box-shadow: 0 1px 0 rgba(0,0,0,.3);
}
.brand { display: flex; align-items: center; gap: 10px; font-weight: 650; font-size: 17px; }
.brand-sub { font-weight: 500; color: #9aa3b5; font-size: 14px; }
.logo {
  width: 22px; height: 22px; border-radius: 6px; display: inline-block;
  background: linear-gradient(135deg, #6d84ff, #3dd6a3);
  box-shadow: inset 0 -6px 0 rgba(0,0,0,.18);
}
.top-actions { display: flex; align-items: center; gap: 8px; }
.top-actions form { margin: 0; }

.btn {
  display: inline-flex; align-items: center; justify-content: center; gap: 6px; height: 32px; padding: 0 12px;
  border-radius: 7px; border: 1px solid var(--line); background: #fff; color: var(--ink);
  font: inherit; font-weight: 550; cursor: pointer; white-space: nowrap;
}
.btn:hover { text-decoration: none; filter: brightness(.97); }
.btn:focus-visible, input:focus-visible, select:focus-visible, tr.rec:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
.btn.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-ink); }
.btn.ghost { background: transparent; }
.btn.dark { background: #232b3b; border-color: #323c50; color: var(--head-ink); }
.btn.dark:hover { background: #2c3649; }
.btn[disabled] { opacity: .45; cursor: not-allowed; }
.btn.wide { width: 100%; height: 38px; }

.live { display: inline-flex; align-items: center; gap: 7px; font-size: 12px; font-weight: 650; padding: 4px 10px; border-radius: 999px; letter-spacing: .03em; }
.live::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: currentColor; }
.live.on { color: #4ee39a; background: rgba(78,227,154,.12); }
.live.on::before { animation: pulse 1.6s ease-in-out infinite; }
.live.off { color: #9aa3b5; background: rgba(154,163,181,.12); }
.live.err { color: #ffc15e; background: rgba(255,193,94,.12); }
@keyframes pulse { 0%,100% { opacity: 1; } 50% { opacity: .25; } }

.wrap { max-width: 1280px; margin: 0 auto; padding: 24px 28px 48px; display: flex; flex-direction: column; gap: 20px; }
.grid { display: grid; grid-template-columns: minmax(280px, 2fr) 3fr; gap: 20px; align-items: start; }
@media (max-width: 900px) { .grid { grid-template-columns: 1fr; } .top { padding: 10px 14px; flex-wrap: wrap; } .wrap { padding: 16px 12px; } }
.card { background: var(--card); border: 1px solid var(--line); border-radius: var(--radius); padding: 18px 20px; box-shadow: 0 1px 2px rgba(20,26,38,.04); }
.card-head { display: flex; align-items: baseline; justify-content: space-between; gap: 12px; margin-bottom: 14px; }

.upstreams { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 10px; }
.upstreams li { padding: 10px 12px; border: 1px solid var(--line); border-radius: 8px; }
.up-main { display: flex; align-items: center; gap: 8px; }
.up-main .badge { margin-left: auto; }
.up-meta { font-size: 12px; margin: 3px 0 0 16px; }
.up-error { font-size: 12px; color: var(--bad); margin: 4px 0 0 16px; font-family: var(--mono); word-break: break-word; }
.dot { width: 8px; height: 8px; border-radius: 50%; background: var(--idle); flex: none; }
.dot.good { background: var(--good); box-shadow: 0 0 0 3px var(--good-bg); }
.dot.warn { background: var(--warn); box-shadow: 0 0 0 3px var(--warn-bg); }
.dot.bad { background: var(--bad); box-shadow: 0 0 0 3px var(--bad-bg); }
.chip { font-size: 11px; color: var(--muted); background: var(--idle-bg); border-radius: 5px; padding: 1px 6px; font-weight: 500; }

.badge { display: inline-block; font-size: 12px; font-weight: 600; padding: 2px 9px; border-radius: 999px; white-space: nowrap; }
.s-good, .d-allowed { color: var(--good); background: var(--good-bg); }
.s-warn, .d-rate_limited { color: var(--warn); background: var(--warn-bg); }
.s-bad, .d-denied { color: var(--bad); background: var(--bad-bg); }
.d-budget_exceeded { color: var(--violet); background: var(--violet-bg); }
.s-idle { color: #545b6b; background: var(--idle-bg); }
.d-error { color: #454c5c; background: #fff; box-shadow: inset 0 0 0 1px #c9ced8; }

.agents { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 14px 22px; }
.agent-name { font-weight: 650; margin-bottom: 6px; font-family: var(--mono); font-size: 13px; }
.agent-name a { color: var(--ink); }
.limit { margin-bottom: 10px; }
.limit-head { display: flex; justify-content: space-between; gap: 8px; font-size: 12.5px; }
.limit-head b { font-weight: 650; margin-left: 4px; }
.bar { height: 8px; background: var(--idle-bg); border-radius: 999px; overflow: hidden; margin: 5px 0 3px; }
.fill { height: 100%; border-radius: 999px; min-width: 2px; transition: width .4s ease; }
.fill.good { background: linear-gradient(90deg, #2fb36b, #1f9d55); }
.fill.warn { background: linear-gradient(90deg, #f0a526, #c77c02); }
.fill.bad { background: linear-gradient(90deg, #f0574f, #d0342c); }
.limit-foot { font-size: 11.5px; }

.filters { display: flex; flex-wrap: wrap; align-items: flex-end; gap: 12px; padding: 12px; margin-bottom: 14px; background: #f8f9fb; border: 1px solid var(--line); border-radius: 8px; }
.filters label, .login-card label { display: flex; flex-direction: column; gap: 4px; font-size: 12px; font-weight: 600; color: var(--muted); }
.filters label { flex: 1 1 160px; }
input, select {
  height: 32px; padding: 0 10px; border: 1px solid #d5d9e2; border-radius: 7px; background: #fff; color: var(--ink);
  font: inherit; font-weight: 400; min-width: 0;
}
.filter-actions { display: flex; gap: 8px; }
.alert { margin: 0 0 12px; padding: 9px 12px; border-radius: 8px; color: var(--bad); background: var(--bad-bg); border: 1px solid #f6c9c5; }

.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; }
table.records { width: 100%; border-collapse: collapse; }
.records th {
  position: sticky; top: 0; text-align: left; font-size: 11.5px; text-transform: uppercase; letter-spacing: .06em;
  color: var(--muted); background: #f8f9fb; padding: 9px 12px; border-bottom: 1px solid var(--line); font-weight: 650;
}
.records td { padding: 9px 12px; border-bottom: 1px solid #eff1f5; vertical-align: middle; }
tr.rec { cursor: pointer; transition: background .15s; }
tr.rec:hover { background: #f5f7ff; }
tr.rec[aria-expanded="true"] { background: #eef1fe; }
tr.rec.new { animation: flash 2s ease-out; }
@keyframes flash { from { background: #fff5c9; } to { background: transparent; } }
.records .time { white-space: nowrap; color: var(--muted); font-variant-numeric: tabular-nums; }
.records .agent { font-weight: 600; }
.records .method { color: var(--muted); font-family: var(--mono); font-size: 12.5px; }
.records .target { font-family: var(--mono); font-size: 12.5px; max-width: 380px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.records .reason { font-family: system-ui, sans-serif; font-size: 12px; color: var(--muted); overflow: hidden; text-overflow: ellipsis; margin-top: 1px; }
.outcome { font-size: 12.5px; color: var(--muted); }
.o-is_error, .o-timeout { color: var(--warn); font-weight: 600; }
.o-jsonrpc_error { color: var(--bad); font-weight: 600; }
tr.empty td { text-align: center; color: var(--muted); padding: 36px 12px; }
tr.detail td { background: #fafbfd; padding: 0; }
.detail-body { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 18px; padding: 14px 16px 16px; border-left: 3px solid var(--accent); }
@media (max-width: 900px) { .detail-body { grid-template-columns: 1fr; } }
.kv { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 4px 14px; margin: 0; font-size: 12.5px; }
.kv dt { color: var(--muted); font-family: var(--mono); font-size: 11.5px; }
.kv dd { margin: 0; font-family: var(--mono); word-break: break-all; }
.args pre { margin: 0; padding: 10px 12px; background: var(--head); color: #d6dcec; border-radius: 8px; font: 12px/1.5 var(--mono); white-space: pre-wrap; word-break: break-word; max-height: 360px; overflow: auto; }
.pager { display: flex; justify-content: flex-end; gap: 8px; margin-top: 12px; }
.pager:empty { display: none; }

.toast { position: fixed; right: 24px; bottom: 24px; max-width: 420px; padding: 12px 16px; border-radius: 9px; background: var(--head); color: var(--head-ink); box-shadow: 0 8px 24px rgba(0,0,0,.2); z-index: 10; white-space: pre-line; }
.toast.bad { background: #5c1612; }

body.login { min-height: 100vh; display: grid; place-items: center; background: radial-gradient(circle at 30% 20%, #27324a, var(--head) 60%); }
.login-card { width: min(380px, calc(100vw - 32px)); background: var(--card); border-radius: 14px; padding: 28px; box-shadow: 0 20px 50px rgba(0,0,0,.35); display: flex; flex-direction: column; gap: 14px; }
.login-card .brand { color: var(--ink); }
.login-card .brand-sub { color: var(--muted); }
.login-card p { margin: 0; }
.login-card form { display: flex; flex-direction: column; gap: 14px; }
.login-card input { height: 38px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 14px 22px; }
.chart-box { margin: 0; }
.chart-box figcaption { font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .05em; margin-bottom: 4px; }
.chart { width: 100%; height: auto; display: block; }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 14px; margin: 4px 0 0; padding: 0; font-size: 12px; color: var(--muted); }
.legend .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
`;

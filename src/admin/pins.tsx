// Tool pins on the admin API and page: pending definition changes with their diff and any
// prompt-injection markers, and an Approve button (a plain form POST: CSRF-checked by Origin like
// every admin POST, no script needed).
import type { Hono, MiddlewareHandler } from 'hono';
import type { PinEvent, Selector } from '../pins/book.js';
import type { PinsView, PendingView } from '../pins/view.js';
import { readBody } from '../http/node-io.js';
import { errorResponse } from '../http/respond.js';

export interface AdminPins {
  view(): PinsView;
  approve(sel: Selector): PinEvent[];
}

const MAX_APPROVE_BYTES = 8 * 1024;

/** The approval request: JSON `{server, tool}` / `{all: true}` (API) or the page's form fields. */
function selectorOf(body: string, form: boolean): Selector | undefined {
  let v: Record<string, unknown>;
  if (form) v = Object.fromEntries(new URLSearchParams(body));
  else {
    try {
      const parsed: unknown = JSON.parse(body);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
      v = parsed as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }
  if (v.all === true || v.all === 'true') return {};
  if (typeof v.server !== 'string' || v.server === '') return undefined;
  // A tool field names one tool even when empty: upstreams name their tools, "" included, and the
  // Approve button of a tool named "" must not approve every pending change of its server.
  return typeof v.tool === 'string' ? { server: v.server, tool: v.tool } : { server: v.server };
}

export function mountPinRoutes(
  api: Hono,
  pins: AdminPins,
  mw: { apiAuth: MiddlewareHandler; csrf: MiddlewareHandler },
): void {
  api.get('/pins', mw.apiAuth, (c) => c.json(pins.view()));
  api.post('/pins/approve', mw.csrf, mw.apiAuth, async (c) => {
    const body = await readBody(c, MAX_APPROVE_BYTES).catch(() => undefined);
    if (body === undefined)
      return errorResponse(c, 'payload_too_large', `an approval is limited to ${MAX_APPROVE_BYTES} bytes`);
    const form = (c.req.header('content-type') ?? '').startsWith('application/x-www-form-urlencoded');
    const sel = selectorOf(body, form);
    if (!sel)
      return errorResponse(
        c,
        'invalid_params',
        'send {"server": "...", "tool": "..."} (tool optional) or {"all": true}',
      );
    const approved = pins.approve(sel);
    // The page's form comes back to the pins section; API callers get the result.
    if (form) return c.redirect('/admin/#pins', 303);
    return c.json({ approved }, approved.length > 0 ? 200 : 404);
  });
}

const PIN_CSS = `
.pin { border-top: 1px solid var(--line); padding: 12px 0; }
.pin-head { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
.pin-head form { margin: 0 0 0 auto; }
.diff { margin: 8px 0 0; padding: 10px 12px; background: var(--head); color: #d6dcec; border-radius: 8px; font: 12px/1.5 var(--mono); white-space: pre-wrap; word-break: break-word; max-height: 360px; overflow: auto; }
.diff .add { color: #7ee2a8; } .diff .del { color: #ff9d94; }
.marker { margin: 6px 0 0; padding: 6px 10px; border-radius: 7px; color: var(--warn); background: var(--warn-bg); font-size: 13px; }
`;

const short = (sha: string | null): string => (sha === null ? 'none' : sha.slice(0, 12));

function Markers(props: { markers: PendingView['markers'] }) {
  return (
    <>
      {props.markers.map((m) => (
        <div class="marker">
          Possible prompt injection in <code>{m.path}</code>: {m.kind} — <code>{m.excerpt}</code>
        </div>
      ))}
    </>
  );
}

function ApproveForm(props: { server?: string; tool?: string; label: string }) {
  return (
    <form method="post" action="/admin/pins/approve">
      {props.server !== undefined ? (
        <input type="hidden" name="server" value={props.server} />
      ) : (
        <input type="hidden" name="all" value="true" />
      )}
      {props.tool !== undefined && <input type="hidden" name="tool" value={props.tool} />}
      <button type="submit" class="btn primary">
        {props.label}
      </button>
    </form>
  );
}

export function PinsSection(props: { view: PinsView }) {
  const { view } = props;
  return (
    <section class="card" id="pins" aria-labelledby="h-pins">
      <style dangerouslySetInnerHTML={{ __html: PIN_CSS }} />
      <div class="card-head">
        <h2 id="h-pins">Tool pins</h2>
        <span class="muted">
          {view.pinned} pinned · {view.pending.length} waiting for approval · <code>{view.file}</code>
        </span>
        {view.pending.length > 1 && <ApproveForm label="Approve all" />}
      </div>
      {view.pending.length === 0 && <p class="muted">No tool definition has changed since it was pinned.</p>}
      {view.pending.map((p) => (
        <div class="pin" data-tool={`${p.server}/${p.tool}`}>
          <div class="pin-head">
            <strong>
              {p.server}/{p.tool}
            </strong>
            <span class={`badge ${p.status === 'changed' ? 's-bad' : 's-warn'}`}>
              {p.status === 'changed' ? 'definition changed' : 'new tool'}
            </span>
            <span class="muted small">
              {short(p.pinnedSha256)} → {short(p.sha256)} · first seen {p.seenAt}
            </span>
            <ApproveForm server={p.server} tool={p.tool} label="Approve" />
          </div>
          <Markers markers={p.markers} />
          <pre class="diff">
            {p.diff.map((l) => (
              <span class={l.op === '+' ? 'add' : l.op === '-' ? 'del' : undefined}>{`${l.op} ${l.text}\n`}</span>
            ))}
          </pre>
        </div>
      ))}
      {view.flagged.map((f) => (
        <div class="pin">
          <div class="pin-head">
            <strong>
              {f.server}/{f.tool}
            </strong>
            <span class="badge s-warn">pinned, flagged</span>
          </div>
          <Markers markers={f.markers} />
        </div>
      ))}
    </section>
  );
}

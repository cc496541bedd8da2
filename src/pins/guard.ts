// Pinning at run time: judges each upstream's tool catalog against the pins (once per fetched
// catalog), holds changed tools (hide, block or warn), audits every detection and approval, and
// tells agents to list again when an approval releases a tool.
import type { Logger } from 'pino';
import type { PinAction } from '../config/runtime.js';
import type { AuditFields, AuditRecorder } from '../audit/step.js';
import type { Entry } from '../upstream/catalog.js';
import type { Upstream } from '../upstream/upstream.js';
import { canonicalJson, sha256Hex, toolDefinition } from './canonical.js';
import { approve, observeTool, pinOf, type ObservedTool, type PinBook, type PinEvent, type Selector } from './book.js';
import type { PinChange, PinStore } from './store.js';
import { pinsView, type PinsView } from './view.js';

export interface HeldTool {
  action: PinAction;
  /** `changed`: differs from its pin; `new`: never pinned (auto_pin_new off). */
  reason: 'changed' | 'new';
  pinnedSha256: string | null;
  sha256: string;
}

export interface PinGuardDeps {
  store: PinStore;
  upstreams: readonly Upstream[];
  recorder: AuditRecorder;
  log: Logger;
  autoPinNew: boolean;
  /** The namespaced tool name, as audit records and policies use it. */
  canonical(server: string, tool: string): string;
  /** Tell the agents that see this upstream to list its tools again. */
  toolsChanged(upstream: Upstream): void;
}

const short = (sha: string | null): string => (sha === null ? 'none' : sha.slice(0, 12));

export class PinGuard {
  /** Verdicts per catalog array: a new fetch is a new array, so it is judged before any use. */
  private verdicts = new WeakMap<readonly Entry[], Map<string, HeldTool>>();
  private readonly byName: ReadonlyMap<string, Upstream>;

  constructor(private readonly deps: PinGuardDeps) {
    this.byName = new Map(deps.upstreams.map((u) => [u.name, u]));
    deps.store.onChange((c) => this.pinsChanged(c));
  }

  /** The tools of this upstream held now (judging its current catalog if that has not happened). */
  held(u: Upstream): ReadonlyMap<string, HeldTool> {
    const tools = u.catalog.tools;
    const known = this.verdicts.get(tools);
    if (known) return known;
    const judged = this.judge(u, tools);
    this.verdicts.set(tools, judged);
    return judged;
  }

  /** Whether agents' tool lists show this entry (`hide` removes held tools). */
  listed(u: Upstream, tool: Entry): boolean {
    return typeof tool.name !== 'string' || this.held(u).get(tool.name)?.action !== 'hide';
  }

  /** Why a call to this tool is refused (`hide` and `block`), or undefined when it may run. */
  refusal(server: string, tool: string): HeldTool | undefined {
    const u = this.byName.get(server);
    const h = u ? this.held(u).get(tool) : undefined;
    return h && h.action !== 'warn' ? h : undefined;
  }

  /** Approves pending changes (admin API); the running gateway applies them at once. */
  approve(sel: Selector, source = 'admin API'): PinEvent[] {
    const now = new Date().toISOString();
    const { approved } = approve(this.deps.store.current(), sel, now);
    if (approved.length > 0) this.deps.store.apply((b) => approve(b, sel, now).book, source);
    return approved;
  }

  /** Pending changes with diffs, for the admin API and page. */
  view(): PinsView {
    return pinsView(this.deps.store.current(), this.deps.store.file);
  }

  private judge(u: Upstream, tools: readonly Entry[]): Map<string, HeldTool> {
    const seen: ObservedTool[] = [];
    for (const e of tools) {
      if (typeof e.name !== 'string') continue;
      const definition = toolDefinition(e);
      seen.push({ name: e.name, definition, sha256: sha256Hex(canonicalJson(definition)) });
    }
    const now = new Date().toISOString();
    const observeAll = (book: PinBook): { book: PinBook; events: PinEvent[] } => {
      const events: PinEvent[] = [];
      for (const t of seen) {
        const r = observeTool(book, u.name, t, this.deps.autoPinNew, now);
        book = r.book;
        if (r.event) events.push(r.event);
      }
      return { book, events };
    };
    const { events } = observeAll(this.deps.store.current());
    this.deps.store.record((b) => observeAll(b).book);
    const book = this.deps.store.current();
    const held = new Map<string, HeldTool>();
    for (const t of seen) {
      const pin = pinOf(book, u.name, t.name);
      if (pin?.sha256 === t.sha256) continue;
      held.set(t.name, {
        action: u.cfg.pinAction,
        reason: pin ? 'changed' : 'new',
        pinnedSha256: pin?.sha256 ?? null,
        sha256: t.sha256,
      });
    }
    for (const e of events) this.report(e, u.cfg.pinAction, 'gateway');
    return held;
  }

  /** The pins changed (approval, outside edit): judge again, tell agents where the held set moved. */
  private pinsChanged(c: PinChange): void {
    const before = new Map(this.deps.upstreams.map((u) => [u, this.verdicts.get(u.catalog.tools)]));
    this.verdicts = new WeakMap();
    for (const a of c.approvals) this.report(a, undefined, c.source);
    for (const u of this.deps.upstreams) {
      if (u.state !== 'ready') continue;
      const prev = before.get(u);
      const next = this.held(u);
      if (!prev || !sameHeld(prev, next)) this.deps.toolsChanged(u);
    }
  }

  private report(e: PinEvent, action: PinAction | undefined, source: string): void {
    const refused = e.type !== 'tool.pin_approved' && action !== 'warn';
    const reason = describe(e, action);
    const log = { upstream: e.server, tool: e.tool, pinned: e.pinnedSha256, sha256: e.sha256, action, source };
    // First-sight pins are routine (every tool at first start): logged, not audited.
    if (e.type === 'tool.pinned') return void this.deps.log.debug(log, reason);
    if (e.type === 'tool.pin_approved') this.deps.log.info(log, reason);
    else this.deps.log.warn(log, reason);
    const who =
      source === 'gateway'
        ? { agent: '@gateway', method: 'gateway' }
        : source === 'admin API'
          ? { agent: '@admin', method: 'admin_token' }
          : source === 'pin store'
            ? { agent: '@operator', method: 'pin_store' } // Redis: the CLI, or another instance's admin page
            : { agent: '@operator', method: 'pin_file' };
    const fields: AuditFields = {
      'gen_ai.agent.id': who.agent,
      'tollgate.auth.method': who.method,
      'tollgate.upstream.name': e.server,
      'gen_ai.tool.name': this.deps.canonical(e.server, e.tool),
      'tollgate.target.native': e.tool,
      'tollgate.request.arguments': {
        event: e.type,
        pinned_sha256: e.pinnedSha256,
        sha256: e.sha256,
        ...(action ? { action } : {}),
      },
      'tollgate.decision': refused ? 'denied' : 'allowed',
      'tollgate.decision_reason': reason,
      'tollgate.decision_rule': e.type,
      'tollgate.outcome': 'ok',
      'tollgate.latency.total_ms': 0,
    };
    this.deps.recorder.record(fields).catch((err: unknown) => this.deps.log.error({ err }, 'audit write failed'));
  }
}

function describe(e: PinEvent, action: PinAction | undefined): string {
  switch (e.type) {
    case 'tool.pinned':
      return `tool pinned on first sight (sha256 ${short(e.sha256)})`;
    case 'tool.pin_approved':
      return `tool definition approved (sha256 ${short(e.pinnedSha256)} → ${short(e.sha256)})`;
    case 'tool.pin_mismatch':
      return `tool definition changed since it was pinned (sha256 ${short(e.pinnedSha256)} → ${short(e.sha256)}); ${consequence(action)}`;
    case 'tool.unpinned':
      return `new tool not pinned yet (sha256 ${short(e.sha256)}); ${consequence(action)}`;
  }
}

const consequence = (action: PinAction | undefined): string =>
  action === 'warn'
    ? 'allowed (pin action warn)'
    : action === 'block'
      ? 'calls refused until approved'
      : 'hidden and refused until approved';

function sameHeld(a: ReadonlyMap<string, HeldTool>, b: ReadonlyMap<string, HeldTool>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || w.action !== v.action || w.sha256 !== v.sha256) return false;
  }
  return true;
}

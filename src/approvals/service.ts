// The approvals of one gateway instance: asks (the agent's user, or operators), holds calls, and
// takes decisions from the admin side. Every step is audited and counted. The MCP step (step.ts)
// decides which calls need an approval; this does the asking.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { GatewayError } from '../errors.js';
import { progressTokenOf, type JsonRpcResponse } from '../mcp/jsonrpc.js';
import type { McpCall } from '../relay/scope.js';
import type { ApprovalDecision, AuditJson } from '../audit/record.js';
import { scopeFields, type AuditRecorder } from '../audit/step.js';
import type { Redactor } from '../audit/redact.js';
import type { ApprovalRule } from './rules.js';
import type { Approval, ApprovalStore } from './store.js';
import type { ApproverIdentity } from './approver.js';
import { decideApproval, type AdminDecision } from './decide.js';
import type { ApprovalData } from './outcome.js';
import type { Rate } from '../config/runtime-units.js';

export { argsHash, type ApprovalData } from './outcome.js';
import { notifyWebhook, type WebhookConfig } from './webhook.js';
import { HeldCalls, type HeldSlot } from './held.js';
import { shownArgs, shownDescription } from './shown.js';

export interface ApprovalsConfig {
  store: 'memory' | 'redis';
  keepaliveMs: number;
  maxPending: number;
  maxPendingPerAgent: number;
  /** New approval requests per agent over time (`requests_per_agent`). */
  requestRate: Rate;
  webhook: WebhookConfig | undefined;
}

export interface ApprovalServiceOptions {
  store: ApprovalStore;
  config: ApprovalsConfig;
  recorder: AuditRecorder;
  redact: Redactor;
  /** The tool's description as its upstream lists it. */
  describe: (server: string, native: string) => string | undefined;
  /** This instance (service.instance.id). */
  instance: string;
  /** Where the admin page is reachable (public_url, else the address listened on). */
  baseUrl: () => string | undefined;
  registry: Registry;
  log: Logger;
  now?: () => number;
}

export class ApprovalService {
  readonly store: ApprovalStore;
  private readonly now: () => number;
  /** Calls waiting for a person here (operators, or a 2025 agent's user): bounded, voided at shutdown. */
  readonly held: HeldCalls;
  private readonly counter: Counter<'ask' | 'outcome'>;

  constructor(private readonly opts: ApprovalServiceOptions) {
    this.store = opts.store;
    this.now = opts.now ?? Date.now;
    this.held = new HeldCalls(opts.config.maxPending, opts.config.maxPendingPerAgent);
    this.counter = new Counter({
      name: 'tollgate_approvals_total',
      help: 'Human approvals of tool calls by who was asked (user, operators) and outcome',
      labelNames: ['ask', 'outcome'],
      registers: [opts.registry],
    });
  }

  newId(): string {
    return `apr_${randomBytes(12).toString('base64url')}`;
  }

  count(ask: 'user' | 'operators', outcome: string): void {
    this.counter.inc({ ask, outcome });
  }

  description(call: McpCall): string | null {
    const t = call.target;
    return (t && this.opts.describe(t.server, t.native)) ?? null;
  }

  redactedArgs(call: McpCall): AuditJson {
    return this.opts.redact(call.target?.args ?? {});
  }

  /** The record of an approval being asked (the call's own record, written when it ends, carries the outcome). */
  async record(call: McpCall, decision: ApprovalDecision, rule: string, reason: string): Promise<void> {
    const t = call.target;
    await this.opts.recorder
      .record({
        ...scopeFields(call.scope),
        // Marks a step of the call, not a request of its own (metrics skip it; see ops/metrics.ts).
        'gen_ai.operation.name': 'request_approval',
        'mcp.method.name': call.request.method,
        'jsonrpc.request.id': call.request.id,
        'tollgate.upstream.name': t?.server ?? null,
        'gen_ai.tool.name': t?.canonical ?? null,
        'tollgate.target.native': t?.native ?? null,
        'tollgate.request.arguments': (t?.args ?? null) as AuditJson,
        'tollgate.decision': decision,
        'tollgate.decision_rule': rule,
        'tollgate.decision_reason': reason,
        'tollgate.outcome': 'input_required',
      })
      .catch((err: unknown) => this.opts.log.error({ err }, 'approvals: audit write failed'));
  }

  /**
   * A new approval request, counted against the agent's `requests_per_agent` before anyone is asked:
   * undefined when it may go on, else the agent's answer (-32029, as the limits answer; the call's
   * record says `rate_limited`).
   */
  async admitRequest(
    call: McpCall,
    rule: ApprovalRule,
    ask: 'user' | 'operators',
  ): Promise<JsonRpcResponse | undefined> {
    const rate = this.opts.config.requestRate;
    const agent = call.scope.agentId;
    let retryAfterMs: number;
    try {
      const r = await this.store.admitRequest(agent, rate);
      if (r.allowed) return undefined;
      retryAfterMs = r.retryAfterMs;
    } catch (err) {
      this.storeFailed(err);
      const data = { id: '', status: 'unavailable' as const, ask, rule: rule.name };
      return this.refuse(call, data, 'approval_denied', 'approval unavailable: the approvals store is unavailable');
    }
    const limit = `approvals.requests_per_agent (${rate.limit} per ${rate.periodMs / 1000} s)`;
    const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    const reason = `too many approval requests (agent ${agent}, ${limit}): ask again in ${retryAfterSeconds} s`;
    call.decision = { decision: 'rate_limited', rule: 'approvals.requests_per_agent', reason };
    this.count(ask, 'rate_limited');
    return new GatewayError('rate_limited', reason, { retryAfterSeconds, limit, remaining: 0 }).toJsonRpc(
      call.request.id,
    );
  }

  /** The store could not be reached: logged here, the caller answers the agent. */
  storeFailed(err: unknown): void {
    this.opts.log.error({ err: err instanceof Error ? err.message : String(err) }, 'approvals: store unavailable');
  }

  /** The agent's answer when no approval was given: -32043 with `data.approval`; the call's record says why. */
  refuse(call: McpCall, data: ApprovalData, decision: ApprovalDecision, message: string): JsonRpcResponse {
    call.decision = {
      decision: decision as Exclude<ApprovalDecision, 'approval_requested'>,
      rule: data.rule,
      reason: message,
    };
    this.count(data.ask, data.status);
    return new GatewayError('approval_refused', message, { approval: data }).toJsonRpc(call.request.id);
  }

  /** The call goes on: its record says who approved. */
  approved(call: McpCall, ask: 'user' | 'operators', rule: string, reason: string): void {
    call.decision = { decision: 'approval_approved', rule, reason };
    this.count(ask, 'approved');
  }

  /**
   * `ask: operators`: the call waits here until someone decides, the rule's timeout passes, the
   * agent cancels, or this instance stops. Progress notifications keep the agent's request alive
   * when it sent a progress token.
   */
  async hold(call: McpCall, rule: ApprovalRule, sha256: string): Promise<Approval | ApprovalData> {
    const agent = call.scope.agentId;
    const base = { ask: 'operators' as const, rule: rule.name };
    // The place is taken now, before anything waits: a burst of calls cannot all pass the cap.
    const slot = this.held.take(agent);
    if (typeof slot === 'string') return { id: '', status: 'unavailable', ...base, reason: slot };
    const t = call.target;
    const at = this.now();
    const a: Approval = {
      id: this.newId(),
      agent,
      tool: t?.canonical ?? '',
      server: t?.server ?? '',
      // What the deciders see is bounded (shown.ts); the decision binds the full arguments' hash.
      description: shownDescription(this.description(call)),
      args: shownArgs(this.redactedArgs(call)),
      sha256,
      rule: rule.name,
      message: rule.message ?? null,
      approvers: rule.approvers,
      holder: this.opts.instance,
      requestedAt: at,
      expiresAt: at + rule.timeoutMs,
      status: 'pending',
    };
    try {
      await this.store.add(a);
    } catch (err) {
      slot.release();
      this.storeFailed(err);
      return { id: a.id, status: 'unavailable', ...base, reason: 'the approvals store is unavailable' };
    }
    await this.record(
      call,
      'approval_requested',
      rule.name,
      `held for operators (approval ${a.id}${rule.approvers.length ? `, approvers ${rule.approvers.join(', ')}` : ''})`,
    );
    this.count('operators', 'requested');
    // The notice lives no longer than the approval: an agent raising and withdrawing approvals in
    // a loop cannot pile up requests to a slow webhook.
    const decided = new AbortController();
    const hook = this.opts.config.webhook;
    if (hook) void notifyWebhook(hook, a, this.link(a.id), this.opts.log, decided.signal);
    try {
      return await this.wait(call, a, rule, slot);
    } finally {
      decided.abort();
    }
  }

  private link(id: string): string | undefined {
    const base = this.opts.baseUrl();
    return base ? `${base.replace(/\/$/, '')}/admin/#approval-${id}` : undefined;
  }

  private wait(call: McpCall, a: Approval, rule: ApprovalRule, slot: HeldSlot): Promise<Approval> {
    const session = call.scope.session;
    const token = progressTokenOf(call.request.params);
    return new Promise<Approval>((resolve) => {
      let settled = false;
      const finish = (d: Approval | undefined): void => {
        if (settled) return;
        if (d && d.status === 'pending') return;
        settled = true;
        clearTimeout(timer);
        clearInterval(keepalive);
        unwatch();
        slot.release();
        if (session?.inFlight.get(call.request.id) === cancellation) session.inFlight.delete(call.request.id);
        resolve(
          d ?? { ...a, status: 'void', decidedBy: '@gateway', reason: 'the approval disappeared from the store' },
        );
      };
      const decide = (status: 'timed_out' | 'withdrawn' | 'void', by: string, reason: string): Promise<void> =>
        this.store.decide(a.id, { status, by, reason }, this.now()).then(
          (d) => finish(d),
          // The store is unreachable: decide here (the call cannot wait for it forever).
          () => finish({ ...a, status, decidedBy: by, reason, decidedAt: this.now() }),
        );
      const unwatch = this.store.watch(a.id, finish);
      const timer = setTimeout(
        () => void decide('timed_out', '@gateway', `no decision within ${rule.timeoutMs / 1000} s`),
        rule.timeoutMs,
      );
      let n = 0;
      const keepalive =
        token === undefined || !call.exchange
          ? undefined
          : setInterval(() => {
              call.exchange?.emit({
                jsonrpc: '2.0',
                method: 'notifications/progress',
                params: { progressToken: token, progress: ++n, message: `waiting for operator approval ${a.id}` },
              });
            }, this.opts.config.keepaliveMs);
      // The agent's cancel (notifications/cancelled, here or over the session bus) withdraws it.
      const cancellation = {
        cancel: () => void decide('withdrawn', `agent:${a.agent}`, 'the agent cancelled the call'),
      };
      session?.inFlight.set(call.request.id, cancellation);
      // At shutdown (now, if it already began): void, for every admin page.
      slot.onVoid((reason) => decide('void', '@gateway', reason));
      // Decided before the watch was in place (another instance was quick): look once.
      void this.store.get(a.id).then(finish, () => undefined);
    });
  }

  /** Decisions from the admin side (decide.ts). */
  decide(
    id: string,
    who: ApproverIdentity,
    decision: 'approve' | 'deny',
    reason: string | undefined,
    sha256: string | undefined,
  ): Promise<AdminDecision> {
    return decideApproval(this.store, this.now(), { id, who, decision, reason, sha256 });
  }

  /** Shutdown: held calls are refused at once and their approvals marked void (for every admin page). */
  async close(): Promise<void> {
    // The void decisions reach the store (and the other instances) before it closes.
    await this.held.voidAll();
    await this.store.close();
  }
}

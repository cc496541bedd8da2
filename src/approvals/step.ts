// MCP step (after the allow-list and pins, before limits): a tool call that an approval rule names
// runs only once a person says yes. `ask: user` asks the agent's own user by elicitation (2025
// agents: a request on the call's stream; 2026 agents: an input_required round); `ask: operators`
// holds the call until someone decides on the admin side. Anything but a yes is -32043.
import type { JsonRpcResponse } from '../mcp/jsonrpc.js';
import { GatewayError } from '../errors.js';
import type { McpCall, McpStep } from '../relay/scope.js';
import { neverThrows } from '../never-throws.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { ApprovalRule } from './rules.js';
import { ApprovalService } from './service.js';
import { argsHash, dataOf, decisionOf, USER_OUTCOMES, USER_REFUSALS } from './outcome.js';
import { askAgent, canElicitForm, elicitationParams, type UserAnswer } from './ask-user.js';
import { isApprovalState, type StateSealer } from './state.js';
import type { HeldSlot } from './held.js';
import type { AgentSession } from '../mcp/agent-session.js';
import { approvalRound } from './round.js';
import { mayApprove } from './approver.js';

export interface ApprovalsStepOptions {
  service: ApprovalService;
  policies: () => PolicySet;
  sealer: StateSealer;
  /**
   * The steps before this one (allow-list and constraints, pins), run again once a person said yes
   * after a wait: a reload that now forbids the call, or a tool whose definition changed while it
   * waited, must stop it as they would a new call. Absent: nothing is judged again.
   */
  recheck?: readonly McpStep[];
}

/** What `when` may read of the user behind the agent: the verified token's subject and claims. */
function userOf(call: McpCall): Record<string, unknown> {
  const id = call.scope.identity;
  return id.method === 'jwt' ? { id: typeof id.claims.sub === 'string' ? id.claims.sub : null, claims: id.claims } : {};
}

export function approvalsStep(opts: ApprovalsStepOptions): McpStep {
  const svc = opts.service;
  if (!(svc instanceof ApprovalService)) throw new Error('approvalsStep: service required');

  /** The agent's approval rule for this tool call under the current policies, if any. */
  const ruleFor = (call: McpCall): ApprovalRule | undefined => {
    const t = call.target!;
    const found = opts.policies().approvalsFor(call.scope.agentId, call.scope.identity.groups);
    return found?.rules.match(t.canonical, t.args, {
      agent: { id: call.scope.agentId, groups: found.groups },
      user: userOf(call),
    });
  };

  /**
   * A yes that came after a wait: the call is judged again under the policies as they are now (the
   * agent's access as a new request would get it), then goes on as approved.
   */
  const afterWait = async (
    call: McpCall,
    yes: { ask: 'user' | 'operators'; rule: string; reason: string },
    next: () => Promise<JsonRpcResponse>,
  ): Promise<JsonRpcResponse> => {
    const steps = opts.recheck ?? [];
    if (steps.length > 0) call.scope = { ...call.scope, access: opts.policies().access(call.scope.identity) };
    let passed = false;
    const run = (i: number): Promise<JsonRpcResponse> => {
      const s = steps[i];
      if (s) return s(call, () => run(i + 1));
      passed = true;
      svc.approved(call, yes.ask, yes.rule, yes.reason); // after the steps, which write their own decision
      return next();
    };
    const res = await run(0);
    // Refused after all: the record says so, and that someone had said yes.
    if (!passed && call.decision)
      call.decision = {
        ...call.decision,
        reason: `${call.decision.reason} (refused after it was ${yes.reason}: the policies or the tool changed while it waited)`,
      };
    return res;
  };

  // 2026 agents: the question and its answer travel in an input_required round (round.ts).
  const round = approvalRound({
    service: svc,
    sealer: opts.sealer,
    ruleFor,
    askOperators: (call, rule, sha256, next) => askOperators(call, rule, sha256, next, false),
  });

  const askUser = async (
    call: McpCall,
    rule: ApprovalRule,
    sha256: string,
    next: () => Promise<JsonRpcResponse>,
  ): Promise<JsonRpcResponse> => {
    const { session } = call.scope;
    if (!session) return round.ask(call, rule, sha256, call.params?.requestState);
    // A place among the held calls first (the caps of operators' approvals bound these too).
    const slot = svc.held.take(call.scope.agentId);
    if (typeof slot === 'string')
      return svc.refuse(
        call,
        { id: '', status: 'unavailable', ask: 'user', rule: rule.name },
        'approval_denied',
        `approval unavailable: ${slot}`,
      );
    const id = svc.newId();
    let answer: UserAnswer;
    try {
      answer = await askHeld(call, session, rule, id, slot);
    } finally {
      slot.release(); // the wait is over; what follows (operators, the call itself) holds its own
    }
    if (answer !== 'accept') {
      const r = USER_REFUSALS[answer];
      const [decision, verb] = USER_OUTCOMES[answer];
      return svc.refuse(call, { id, status: r.status, ask: 'user', rule: rule.name }, decision, `${verb}: ${r.text}`);
    }
    // The rule as it is now (a reload while the user was asked may have made it ask operators): a
    // yes from the agent's side never stands in for operators.
    const now = ruleFor(call);
    if (now?.ask === 'operators') return askOperators(call, now, sha256, next, false);
    return afterWait(
      call,
      { ask: 'user', rule: rule.name, reason: `approved by the agent's user (approval ${id})` },
      next,
    );
  };

  /** The question on the 2025 agent's session, while the call holds its place. */
  const askHeld = async (
    call: McpCall,
    session: AgentSession,
    rule: ApprovalRule,
    id: string,
    slot: HeldSlot,
  ): Promise<UserAnswer> => {
    await svc.record(call, 'approval_requested', rule.name, `asked the agent's user (approval ${id})`);
    svc.count('user', 'requested');
    const params = elicitationParams({
      tool: call.target!.canonical,
      description: svc.description(call),
      args: svc.redactedArgs(call),
      message: rule.message ?? null,
    });
    return askAgent(session, call.exchange!, params, rule.timeoutMs, (end) => {
      if (!end) {
        session.inFlight.delete(call.request.id);
        return;
      }
      session.inFlight.set(call.request.id, { cancel: () => end('withdrawn') });
      slot.onVoid(() => end('void'));
    });
  };

  const askOperators = async (
    call: McpCall,
    rule: ApprovalRule,
    sha256: string,
    next: () => Promise<JsonRpcResponse>,
    fellBack: boolean,
  ): Promise<JsonRpcResponse> => {
    const outcome = await svc.hold(call, fellBack ? { ...rule, ask: 'operators' } : rule, sha256);
    if (!('holder' in outcome)) {
      const msg = `approval unavailable: ${outcome.reason ?? 'no one can be asked'}`;
      return svc.refuse(call, outcome, 'approval_denied', msg);
    }
    if (outcome.status !== 'approved') {
      const data = dataOf(outcome, 'operators');
      const verb =
        outcome.status === 'denied'
          ? `approval denied by ${outcome.decidedBy ?? 'an operator'}`
          : `approval ${outcome.status.replace('_', ' ')}`;
      return svc.refuse(call, data, decisionOf(outcome), outcome.reason ? `${verb}: ${outcome.reason}` : verb);
    }
    // Bound to the arguments approved: what goes upstream must hash the same.
    if (argsHash(call.target?.args) !== outcome.sha256) {
      return svc.refuse(
        call,
        { id: outcome.id, status: 'mismatch', ask: 'operators', rule: rule.name },
        'approval_denied',
        'approval refused: the arguments differ from the ones approved',
      );
    }
    // A reload while it waited may have changed who may decide: a signed-in user's yes counts only
    // when the rule as it is now still names them (else the call is asked of operators again).
    const now = ruleFor(call);
    const user = outcome.decidedBy?.startsWith('user:') ? outcome.decidedBy.slice('user:'.length) : undefined;
    if (
      now?.ask === 'operators' &&
      user !== undefined &&
      !mayApprove({ kind: 'user', id: user, groups: outcome.decidedByGroups ?? [] }, now.approvers)
    )
      return askOperators(call, now, sha256, next, false);
    const after = Math.round(((outcome.decidedAt ?? Date.now()) - outcome.requestedAt) / 100) / 10;
    const by = outcome.decidedBy ?? 'an operator';
    const reason = `approved by ${by} after ${after} s (approval ${outcome.id})${outcome.reason ? `: ${outcome.reason}` : ''}`;
    return afterWait(call, { ask: 'operators', rule: rule.name, reason }, next);
  };

  /**
   * A call that will ask someone counts against the agent's request rate first. Asked again after
   * a reload changed its rule is not a new request of the agent's, so not counted again.
   */
  const admitted = async (
    call: McpCall,
    rule: ApprovalRule,
    ask: 'user' | 'operators',
    go: () => Promise<JsonRpcResponse>,
  ): Promise<JsonRpcResponse> => (await svc.admitRequest(call, rule, ask)) ?? go();

  const step: McpStep = (call, next) => {
    const t = call.target;
    if (t?.kind !== 'tool' || call.request.method !== 'tools/call') return next();
    const token = call.params?.requestState;
    if (isApprovalState(token) && call.params) return round.resume(call, next, token);
    const rule = ruleFor(call);
    if (!rule) return next();
    const sha256 = argsHash(t.args);
    if (sha256 === undefined)
      throw new GatewayError('invalid_params', 'Invalid params: the arguments are nested too deeply');
    if (rule.ask === 'operators')
      return admitted(call, rule, 'operators', () => askOperators(call, rule, sha256, next, false));
    if (canElicitForm(call.scope.capabilities) && call.exchange && call.params)
      return admitted(call, rule, 'user', () => askUser(call, rule, sha256, next));
    if (rule.fallback === 'operators')
      return admitted(call, rule, 'operators', () => askOperators(call, rule, sha256, next, true));
    return Promise.resolve(
      svc.refuse(
        call,
        { id: '', status: 'unavailable', ask: 'user', rule: rule.name },
        'approval_denied',
        "approval unavailable: this call needs its user's approval and the agent cannot be asked (no elicitation capability)",
      ),
    );
  };

  // Not async: a call no rule names goes on without a promise of this step's own (hot path).
  return neverThrows(step);
}

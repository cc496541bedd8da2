// MCP step (after the allow-list and pins, before limits): a tool call that an approval rule names
// runs only once a person says yes. `ask: user` asks the agent's own user by elicitation (2025
// agents: a request on the call's stream; 2026 agents: an input_required round); `ask: operators`
// holds the call until someone decides on the admin side. Anything but a yes is -32043.
import { isObject, resultMessage, type JsonRpcResponse } from '../mcp/jsonrpc.js';
import { GatewayError } from '../errors.js';
import type { McpCall, McpStep } from '../relay/scope.js';
import { neverThrows } from '../never-throws.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { ApprovalRule } from './rules.js';
import { ApprovalService } from './service.js';
import { argsHash, dataOf, decisionOf } from './outcome.js';
import { answerOf, askAgent, canElicitForm, elicitationParams, INPUT_KEY, type UserAnswer } from './ask-user.js';
import { isApprovalState, type StateSealer } from './state.js';

/** How long an approved call's carried upstream round stays good (the upstream bounds its own too). */
const CARRIED_STATE_MS = 10 * 60_000;

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

const USER_REFUSALS: Record<
  Exclude<UserAnswer, 'accept'>,
  { status: 'declined' | 'timed_out' | 'withdrawn'; text: string }
> = {
  decline: { status: 'declined', text: "the agent's user declined" },
  cancel: { status: 'declined', text: "the agent's user dismissed the request" },
  timeout: { status: 'timed_out', text: "the agent's user did not answer in time" },
  withdrawn: { status: 'withdrawn', text: 'the agent cancelled the call' },
};

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
  const afterWait = (call: McpCall, approve: () => void, next: () => Promise<JsonRpcResponse>) => {
    const steps = opts.recheck ?? [];
    if (steps.length > 0) call.scope = { ...call.scope, access: opts.policies().access(call.scope.identity) };
    const run = (i: number): Promise<JsonRpcResponse> => {
      const s = steps[i];
      if (s) return s(call, () => run(i + 1));
      approve(); // after the steps, which write their own decision into the call's record
      return next();
    };
    return run(0);
  };

  /** 2026: ask in an input_required result; the retry comes back through `resume`. */
  const askInRound = async (
    call: McpCall,
    rule: ApprovalRule,
    sha256: string,
    inner: unknown,
  ): Promise<JsonRpcResponse> => {
    const id = svc.newId();
    const t = call.target!;
    const requestState = opts.sealer.seal({
      k: 'ask',
      id,
      a: call.scope.agentId,
      t: t.canonical,
      h: sha256,
      e: Date.now() + rule.timeoutMs,
      r: rule.name,
      ...(typeof inner === 'string' ? { i: inner } : {}),
    });
    const params = elicitationParams({
      tool: t.canonical,
      description: svc.description(call),
      args: svc.redactedArgs(call),
      message: rule.message ?? null,
    });
    call.decision = {
      decision: 'approval_requested',
      rule: rule.name,
      reason: `asked the agent's user (approval ${id})`,
    };
    svc.count('user', 'requested');
    return resultMessage(call.request.id, {
      resultType: 'input_required',
      inputRequests: { [INPUT_KEY]: { method: 'elicitation/create', params } },
      requestState,
    });
  };

  /** An approved 2026 call whose upstream asks for input: its state travels inside ours. */
  const carry = (call: McpCall, res: JsonRpcResponse, sha256: string, rule: string): JsonRpcResponse => {
    if (!('result' in res) || res.result.resultType !== 'input_required' || typeof res.result.requestState !== 'string')
      return res;
    const state = opts.sealer.seal({
      k: 'ok',
      id: 'carried',
      a: call.scope.agentId,
      t: call.target!.canonical,
      h: sha256,
      e: Date.now() + CARRIED_STATE_MS,
      r: rule,
      i: res.result.requestState,
    });
    return { ...res, result: { ...res.result, requestState: state } };
  };

  /** A 2026 retry carrying our state: checked, our fields taken out, the layer below's put back. */
  const resume = async (
    call: McpCall,
    next: () => Promise<JsonRpcResponse>,
    token: string,
  ): Promise<JsonRpcResponse> => {
    const p = call.params!;
    const t = call.target!;
    const opened = opts.sealer.open(token);
    if (opened === 'invalid' || opened === 'spent')
      throw new GatewayError(
        'invalid_params',
        `Invalid params: requestState is ${opened === 'spent' ? 'already used' : 'not valid'}`,
      );
    const base = { ask: 'user' as const };
    if (opened === 'expired') {
      return svc.refuse(
        call,
        { id: '', status: 'timed_out', ...base, rule: 'approval' },
        'approval_timed_out',
        'approval timed out: the answer came too late',
      );
    }
    const s = opened;
    if (s.a !== call.scope.agentId || s.t !== t.canonical)
      throw new GatewayError('invalid_params', 'Invalid params: requestState belongs to another call');
    const sha = argsHash(t.args);
    if (sha !== s.h) {
      return svc.refuse(
        call,
        { id: s.id, status: 'mismatch', ...base, rule: s.r },
        'approval_denied',
        'approval refused: the arguments differ from the ones approved',
      );
    }
    // Spent only now it is known to be this call's: a state presented with another tool, other
    // arguments or by another agent must not burn it for the rightful retry. Good once here and on
    // every instance that shares the store (the sealer alone knows only this one).
    if (!opts.sealer.spend(s) || !(await svc.store.spend(s.n, s.e)))
      throw new GatewayError('invalid_params', 'Invalid params: requestState is already used');
    const responses = isObject(p.inputResponses) ? p.inputResponses : {};
    if (s.k === 'ask') {
      const answer = answerOf(isObject(responses[INPUT_KEY]) ? responses[INPUT_KEY] : undefined);
      if (answer !== 'accept') {
        const r = USER_REFUSALS[answer];
        return svc.refuse(
          call,
          { id: s.id, status: r.status, ...base, rule: s.r },
          'approval_denied',
          `approval declined: ${r.text}`,
        );
      }
    }
    // What the layer below must not see: our answer and our state.
    const { [INPUT_KEY]: _ours, ...rest } = responses;
    if (Object.keys(rest).length > 0) p.inputResponses = rest;
    else delete p.inputResponses;
    if (s.i !== undefined) p.requestState = s.i;
    else delete p.requestState;
    // The rule as it is now (a reload may have tightened it): a yes from the agent's side never
    // stands in for operators.
    const now = ruleFor(call);
    if (now?.ask === 'operators') return askOperators(call, now, sha, next, false);
    svc.approved(
      call,
      'user',
      s.r,
      s.k === 'ask' ? `approved by the agent's user (approval ${s.id})` : 'approved earlier in this call',
    );
    return carry(call, await next(), sha, s.r);
  };

  const askUser = async (
    call: McpCall,
    rule: ApprovalRule,
    sha256: string,
    next: () => Promise<JsonRpcResponse>,
  ): Promise<JsonRpcResponse> => {
    const { session } = call.scope;
    if (!session) return askInRound(call, rule, sha256, call.params?.requestState);
    const id = svc.newId();
    await svc.record(call, 'approval_requested', rule.name, `asked the agent's user (approval ${id})`);
    svc.count('user', 'requested');
    const params = elicitationParams({
      tool: call.target!.canonical,
      description: svc.description(call),
      args: svc.redactedArgs(call),
      message: rule.message ?? null,
    });
    const answer = await askAgent(session, call.exchange!, params, rule.timeoutMs, (c) => {
      if (c) session.inFlight.set(call.request.id, { cancel: c });
      else session.inFlight.delete(call.request.id);
    });
    if (answer !== 'accept') {
      const r = USER_REFUSALS[answer];
      const decision =
        answer === 'timeout' ? 'approval_timed_out' : answer === 'withdrawn' ? 'approval_withdrawn' : 'approval_denied';
      const verb =
        answer === 'timeout'
          ? 'approval timed out'
          : answer === 'withdrawn'
            ? 'approval withdrawn'
            : 'approval declined';
      return svc.refuse(call, { id, status: r.status, ask: 'user', rule: rule.name }, decision, `${verb}: ${r.text}`);
    }
    // The rule as it is now (a reload while the user was asked may have made it ask operators): a
    // yes from the agent's side never stands in for operators.
    const now = ruleFor(call);
    if (now?.ask === 'operators') return askOperators(call, now, sha256, next, false);
    return afterWait(
      call,
      () => svc.approved(call, 'user', rule.name, `approved by the agent's user (approval ${id})`),
      next,
    );
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
    const after = Math.round(((outcome.decidedAt ?? Date.now()) - outcome.requestedAt) / 100) / 10;
    const approve = () =>
      svc.approved(
        call,
        'operators',
        rule.name,
        `approved by ${outcome.decidedBy ?? 'an operator'} after ${after} s (approval ${outcome.id})${outcome.reason ? `: ${outcome.reason}` : ''}`,
      );
    return afterWait(call, approve, next);
  };

  const step: McpStep = (call, next) => {
    const t = call.target;
    if (t?.kind !== 'tool' || call.request.method !== 'tools/call') return next();
    const token = call.params?.requestState;
    if (isApprovalState(token) && call.params) return resume(call, next, token);
    const rule = ruleFor(call);
    if (!rule) return next();
    const sha256 = argsHash(t.args);
    if (sha256 === undefined)
      throw new GatewayError('invalid_params', 'Invalid params: the arguments are nested too deeply');
    if (rule.ask === 'operators') return askOperators(call, rule, sha256, next, false);
    if (canElicitForm(call.scope.capabilities) && call.exchange && call.params)
      return askUser(call, rule, sha256, next);
    if (rule.fallback === 'operators') return askOperators(call, rule, sha256, next, true);
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

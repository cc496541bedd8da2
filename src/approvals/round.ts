// `ask: user` for 2026 agents, which have no session to be asked on: the question goes out in an
// input_required result whose requestState (sealed, state.ts) names the call it was asked for, and
// the agent's retry carries the answer back. An approved call whose upstream then asks for input
// itself gets its state carried inside ours, so the call is not asked about again.
import { isObject, resultMessage, type JsonRpcResponse } from '../mcp/jsonrpc.js';
import { GatewayError } from '../errors.js';
import type { McpCall } from '../relay/scope.js';
import type { ApprovalRule } from './rules.js';
import type { ApprovalService } from './service.js';
import { argsHash, USER_REFUSALS } from './outcome.js';
import { answerOf, elicitationParams, INPUT_KEY } from './ask-user.js';
import { MAX_CARRIED_STATE_CHARS, newNonce, type ApprovalState, type StateSealer } from './state.js';

/** How long an approved call's carried upstream round stays good (the upstream bounds its own too). */
const CARRIED_STATE_MS = 10 * 60_000;

export interface RoundOptions {
  service: ApprovalService;
  sealer: StateSealer;
  /** The agent's rule for the call under the policies now. */
  ruleFor: (call: McpCall) => ApprovalRule | undefined;
  /** Holds the call for operators (when the rule asks them by the time the answer comes). */
  askOperators: (
    call: McpCall,
    rule: ApprovalRule,
    sha256: string,
    next: () => Promise<JsonRpcResponse>,
  ) => Promise<JsonRpcResponse>;
}

export function approvalRound(o: RoundOptions): {
  ask: (call: McpCall, rule: ApprovalRule, sha256: string, inner: unknown) => Promise<JsonRpcResponse>;
  resume: (call: McpCall, next: () => Promise<JsonRpcResponse>, token: string) => Promise<JsonRpcResponse>;
} {
  const svc = o.service;

  /**
   * Seals a state and makes it good once for every instance sharing the store (store.issue): the
   * store keeps it only while it can be used. Undefined when the store cannot be reached.
   */
  const issue = async (s: ApprovalState): Promise<string | undefined> => {
    const n = newNonce();
    const token = o.sealer.seal(s, n);
    try {
      await svc.store.issue(n, s.e);
    } catch (err) {
      svc.storeFailed(err);
      return undefined;
    }
    return token;
  };

  /** 2026: ask in an input_required result; the retry comes back through `resume`. */
  const ask = async (call: McpCall, rule: ApprovalRule, sha256: string, inner: unknown): Promise<JsonRpcResponse> => {
    if (typeof inner === 'string' && inner.length > MAX_CARRIED_STATE_CHARS)
      throw new GatewayError(
        'invalid_params',
        `Invalid params: requestState is too long to carry through an approval (${inner.length} characters; at most ${MAX_CARRIED_STATE_CHARS})`,
      );
    const id = svc.newId();
    const t = call.target!;
    const requestState = await issue({
      k: 'ask',
      id,
      a: call.scope.agentId,
      t: t.canonical,
      h: sha256,
      e: Date.now() + rule.timeoutMs,
      r: rule.name,
      ...(typeof inner === 'string' ? { i: inner } : {}),
    });
    if (requestState === undefined)
      return svc.refuse(
        call,
        { id, status: 'unavailable', ask: 'user', rule: rule.name },
        'approval_denied',
        'approval unavailable: the approvals store is unavailable',
      );
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

  /**
   * An approved 2026 call whose upstream asks for input: its state travels inside ours. One beyond
   * the bound is refused now, with why: sealed, the agent's retry would only be refused later.
   */
  const carry = async (call: McpCall, res: JsonRpcResponse, sha256: string, rule: string): Promise<JsonRpcResponse> => {
    if (!('result' in res) || res.result.resultType !== 'input_required' || typeof res.result.requestState !== 'string')
      return res;
    const inner = res.result.requestState;
    if (inner.length > MAX_CARRIED_STATE_CHARS)
      throw new GatewayError(
        'upstream_bad_response',
        `upstream requestState is too long to carry through the approval (${inner.length} characters; at most ${MAX_CARRIED_STATE_CHARS})`,
      );
    const state = await issue({
      k: 'ok',
      id: 'carried',
      a: call.scope.agentId,
      t: call.target!.canonical,
      h: sha256,
      e: Date.now() + CARRIED_STATE_MS,
      r: rule,
      i: inner,
    });
    if (state === undefined)
      throw new GatewayError(
        'approval_refused',
        "approval unavailable: the approvals store is unavailable, so the upstream's request for input cannot be carried; call again",
        { approval: { id: 'carried', status: 'unavailable', ask: 'user', rule } },
      );
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
    const opened = o.sealer.open(token);
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
    if (!o.sealer.spend(s) || !(await svc.store.spend(s.n)))
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
    const now = o.ruleFor(call);
    if (now?.ask === 'operators') return o.askOperators(call, now, sha, next);
    svc.approved(
      call,
      'user',
      s.r,
      s.k === 'ask' ? `approved by the agent's user (approval ${s.id})` : 'approved earlier in this call',
    );
    return carry(call, await next(), sha, s.r);
  };

  return { ask, resume };
}

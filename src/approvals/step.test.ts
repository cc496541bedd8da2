import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AuditRecorder } from '../audit/step.js';
import { createRedactor } from '../audit/redact.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { JsonRpcResponse } from '../mcp/jsonrpc.js';
import type { McpCall } from '../relay/scope.js';
import { payCall } from '../../test/helpers/pay-call.js';
import { ApprovalRules } from './rules.js';
import { approvalRuleSchema } from './schema.js';
import { ApprovalService, type ApprovalsConfig } from './service.js';
import { MemoryApprovalStore } from './store.js';
import { approvalsStep } from './step.js';
import { StateSealer, stateKeys } from './state.js';
import { waitUntil } from '../../test/helpers/wait.js';

function setup(rule: Record<string, unknown>, config: Partial<ApprovalsConfig> = {}) {
  /** The store's clock (approval request rates), moved by the test. */
  let clock = 1_000_000;
  const store = new MemoryApprovalStore({ now: () => clock });
  const svc = new ApprovalService({
    store,
    config: {
      store: 'memory',
      keepaliveMs: 15_000,
      maxPending: 100,
      maxPendingPerAgent: 5,
      requestRate: { limit: 60, periodMs: 600_000 },
      webhook: undefined,
      ...config,
    },
    recorder: new AuditRecorder(undefined, 'unit'),
    redact: createRedactor({ keys: [], maxValueBytes: 2048 }),
    describe: () => 'Sends money',
    instance: 'unit',
    baseUrl: () => undefined,
    registry: new Registry(),
    log: pino({ level: 'silent' }),
  });
  const compile = (r: Record<string, unknown>) =>
    new ApprovalRules([{ ...approvalRuleSchema.parse(r), index: 0, source: 'a.yaml' }]);
  let rules = compile(rule);
  /** A policy reload: the agent's rule is now this one. */
  const setRule = (r: Record<string, unknown>) => {
    rules = compile(r);
  };
  const policies = { approvalsFor: () => ({ rules, groups: [] }) } as unknown as PolicySet;
  const step = approvalsStep({ service: svc, policies: () => policies, sealer: new StateSealer(stateKeys([])) });
  let ran = 0;
  const seen: Record<string, unknown>[] = [];
  const run = (args: Record<string, unknown>, extra: Partial<McpCall> = {}, params: Record<string, unknown> = {}) => {
    const base = payCall(args, params);
    const p = base.params;
    const call: McpCall = { ...base, ...extra };
    const res = step(call, async (): Promise<JsonRpcResponse> => {
      ran++;
      seen.push({ ...p });
      return { jsonrpc: '2.0', id: 1, result: { content: [] } };
    });
    return { call, res };
  };
  const advance = (ms: number) => {
    clock += ms;
  };
  return { svc, store, run, setRule, advance, ran: () => ran, seen };
}

const admin = { kind: 'admin' as const, id: 'admin#1', groups: [] };

describe('approvals step', () => {
  it('is built only with a service', () => {
    expect(() => approvalsStep({} as Parameters<typeof approvalsStep>[0])).toThrow(/service/);
  });

  it('holds a call for operators until approved, then runs it once', async () => {
    const t = setup({ tool: 'pay__*', ask: 'operators' });
    const { call, res } = t.run({ amount: 500 });
    await waitUntil(async () => (await t.store.list()).length === 1);
    const [a] = await t.store.list();
    expect(t.ran()).toBe(0);
    expect(await t.svc.decide(a!.id, admin, 'approve', 'ok', a!.sha256)).toMatchObject({ ok: true });
    expect('result' in (await res)).toBe(true);
    expect(t.ran()).toBe(1);
    expect(call.decision?.decision).toBe('approval_approved');
  });

  it('an agent flooding approvals is refused beyond its cap while the first waits', async () => {
    const t = setup({ tool: 'pay__*', ask: 'operators' }, { maxPendingPerAgent: 1 });
    const first = t.run({ amount: 1 });
    await waitUntil(async () => (await t.store.list()).length === 1);
    const second = await t.run({ amount: 2 }).res;
    expect(second).toMatchObject({ error: { code: -32043, data: { approval: { status: 'unavailable' } } } });
    const [a] = await t.store.list();
    await t.svc.decide(a!.id, admin, 'deny', undefined, undefined);
    expect(await first.res).toMatchObject({ error: { code: -32043, data: { approval: { status: 'denied' } } } });
    expect(t.ran()).toBe(0);
  });

  it('only admin tokens or the named approvers decide', async () => {
    const t = setup({ tool: 'pay__*', ask: 'operators', approvers: ['group:finance'] });
    const { res } = t.run({ amount: 1 });
    await waitUntil(async () => (await t.store.list()).length === 1);
    const [a] = await t.store.list();
    expect(
      await t.svc.decide(a!.id, { kind: 'user', id: 'eve', groups: ['eng'] }, 'approve', undefined, undefined),
    ).toMatchObject({
      ok: false,
      status: 403,
    });
    expect(
      await t.svc.decide(a!.id, { kind: 'user', id: 'fay', groups: ['finance'] }, 'approve', undefined, undefined),
    ).toMatchObject({
      ok: true,
    });
    expect('result' in (await res)).toBe(true);
  });

  it('a signed-in approver whom a reload took out of the rule cannot release a call held before it', async () => {
    const t = setup({ tool: 'pay__*', ask: 'operators', approvers: ['group:finance'] });
    const { res } = t.run({ amount: 1 });
    await waitUntil(async () => (await t.store.list()).length === 1);
    const [a] = await t.store.list();
    // The operators now want security to decide (finance accounts were phished, say).
    t.setRule({ tool: 'pay__*', ask: 'operators', approvers: ['group:security'], timeout: '50ms' });
    const fay = { kind: 'user' as const, id: 'fay', groups: ['finance'] };
    expect(await t.svc.decide(a!.id, fay, 'approve', undefined, undefined)).toMatchObject({ ok: true });
    // Not run on fay's yes: asked again under the rule as it is (no one decides: timed out).
    expect(await res).toMatchObject({
      error: { code: -32043, data: { approval: { ask: 'operators', status: 'timed_out' } } },
    });
    expect(t.ran()).toBe(0);
    const again = (await t.store.list()).find((x) => x.id !== a!.id);
    expect(again?.approvers).toEqual(['group:security']);
  });

  it('no decision within the timeout: -32043 timed_out, marked so in the store', async () => {
    const t = setup({ tool: 'pay__*', ask: 'operators', timeout: '50ms' });
    expect(await t.run({ amount: 1 }).res).toMatchObject({
      error: { code: -32043, data: { approval: { status: 'timed_out' } } },
    });
    expect((await t.store.list())[0]?.status).toBe('timed_out');
  });

  it('ask: user without an elicitation capability falls back to deny', async () => {
    const t = setup({ tool: 'pay__*', ask: 'user' });
    expect(await t.run({ amount: 1 }).res).toMatchObject({
      error: { code: -32043, data: { approval: { status: 'unavailable', ask: 'user' } } },
    });
    expect(t.ran()).toBe(0);
  });

  it('2026: input_required, then the accepted retry runs without our fields; a forged state is refused', async () => {
    const t = setup({ tool: 'pay__*', ask: 'user' });
    const caps = (c: McpCall) => ({ scope: { ...c.scope, capabilities: { elicitation: {} } } });
    const probe = t.run({ amount: 1 });
    await probe.res.catch(() => undefined);
    const first = await t.run({ amount: 1 }, caps(probe.call)).res;
    expect(first).toMatchObject({
      result: { resultType: 'input_required', inputRequests: { tollgate_approval: { method: 'elicitation/create' } } },
    });
    const state = (first as unknown as { result: { requestState: string } }).result.requestState;
    const retry = await t.run({ amount: 1 }, caps(probe.call), {
      requestState: state,
      inputResponses: { tollgate_approval: { action: 'accept' } },
    }).res;
    expect('result' in retry).toBe(true);
    expect(t.seen.at(-1)).not.toHaveProperty('requestState');
    expect(t.seen.at(-1)).not.toHaveProperty('inputResponses');
    await expect(
      t.run({ amount: 1 }, caps(probe.call), { requestState: `${state.slice(0, -2)}xx`, inputResponses: {} }).res,
    ).rejects.toThrow(/requestState is not valid/);
  });

  it("2026: a user's yes given under an ask: user rule does not stand in for operators once the rule asks them", async () => {
    const t = setup({ tool: 'pay__*', ask: 'user' });
    const caps = (c: McpCall) => ({ scope: { ...c.scope, capabilities: { elicitation: {} } } });
    const probe = t.run({ amount: 1 });
    await probe.res.catch(() => undefined);
    const first = await t.run({ amount: 1 }, caps(probe.call)).res;
    const state = (first as unknown as { result: { requestState: string } }).result.requestState;
    // The operators tighten the rule (policy reload) while the agent holds a state it can accept itself.
    t.setRule({ tool: 'pay__*', ask: 'operators', timeout: '50ms' });
    const retry = await t.run({ amount: 1 }, caps(probe.call), {
      requestState: state,
      inputResponses: { tollgate_approval: { action: 'accept' } },
    }).res;
    expect(retry).toMatchObject({
      error: { code: -32043, data: { approval: { ask: 'operators', status: 'timed_out' } } },
    });
    expect(t.ran()).toBe(0);
  });

  it('2026: a state presented with other arguments, tool or agent is refused without spending it for the rightful retry', async () => {
    const t = setup({ tool: 'pay__*', ask: 'user' });
    const caps = (c: McpCall) => ({ scope: { ...c.scope, capabilities: { elicitation: {} } } });
    const probe = t.run({ amount: 1 });
    await probe.res.catch(() => undefined);
    const first = await t.run({ amount: 1 }, caps(probe.call)).res;
    const state = (first as unknown as { result: { requestState: string } }).result.requestState;
    const answer = { requestState: state, inputResponses: { tollgate_approval: { action: 'accept' } } };
    // Other arguments: refused as a mismatch, as before.
    expect(await t.run({ amount: 1000 }, caps(probe.call), answer).res).toMatchObject({
      error: { code: -32043, data: { approval: { status: 'mismatch' } } },
    });
    // Another tool, another agent: not this state's call.
    const c = caps(probe.call);
    const otherTool = { ...probe.call.target!, canonical: 'pay__drain', native: 'drain' };
    await expect(t.run({ amount: 1 }, { ...c, target: otherTool }, answer).res).rejects.toThrow(/another call/);
    const otherAgent = { scope: { ...c.scope, agentId: 'b' } };
    await expect(t.run({ amount: 1 }, otherAgent, answer).res).rejects.toThrow(/another call/);
    expect(t.ran()).toBe(0);
    // The call the state was issued for still goes through, once.
    expect('result' in (await t.run({ amount: 1 }, caps(probe.call), answer).res)).toBe(true);
    expect(t.ran()).toBe(1);
    await expect(t.run({ amount: 1 }, caps(probe.call), answer).res).rejects.toThrow(/already used/);
  });

  it('an agent asking again after each refusal is refused beyond its approval request rate, and the operators never see it', async () => {
    const t = setup({ tool: 'pay__*', ask: 'operators' }, { requestRate: { limit: 2, periodMs: 60_000 } });
    for (const amount of [1, 2]) {
      const { res } = t.run({ amount });
      await waitUntil(async () => (await t.store.list()).some((x) => x.status === 'pending'));
      const pending = (await t.store.list()).find((x) => x.status === 'pending');
      await t.svc.decide(pending!.id, admin, 'deny', undefined, undefined);
      expect(await res).toMatchObject({ error: { code: -32043, data: { approval: { status: 'denied' } } } });
    }
    // Nothing is held any more (max_pending_per_agent is not what stops it): the rate is.
    const third = t.run({ amount: 3 });
    expect(await third.res).toMatchObject({
      error: {
        code: -32029,
        message: expect.stringContaining('too many approval requests'),
        data: { retryAfterSeconds: 30, limit: 'approvals.requests_per_agent (2 per 60 s)' },
      },
    });
    expect(third.call.decision).toMatchObject({ decision: 'rate_limited', rule: 'approvals.requests_per_agent' });
    expect(await t.store.list()).toHaveLength(2); // never listed for the operators
    // Half the period later (2 per minute: one every 30 s) the agent may ask again.
    t.advance(30_000);
    const fourth = t.run({ amount: 4 });
    await waitUntil(async () => (await t.store.list()).length === 3);
    const [asked] = await t.store.list();
    await t.svc.decide(asked!.id, admin, 'approve', undefined, undefined);
    expect('result' in (await fourth.res)).toBe(true);
    expect(t.ran()).toBe(1);
  });

  it('2026: each input_required round asked of the user counts against the rate; the retry that answers does not', async () => {
    const t = setup({ tool: 'pay__*', ask: 'user' }, { requestRate: { limit: 2, periodMs: 60_000 } });
    const caps = (c: McpCall) => ({ scope: { ...c.scope, capabilities: { elicitation: {} } } });
    const probe = t.run({ amount: 0 });
    await probe.res.catch(() => undefined); // no elicitation: refused without asking anyone (not counted)
    const state = async (amount: number) => {
      const r = await t.run({ amount }, caps(probe.call)).res;
      return (r as unknown as { result: { requestState: string } }).result.requestState;
    };
    const first = await state(1);
    await state(2);
    expect(await t.run({ amount: 3 }, caps(probe.call)).res).toMatchObject({ error: { code: -32029 } });
    // Answering an asked round is not a new request.
    const answer = { requestState: first, inputResponses: { tollgate_approval: { action: 'accept' } } };
    expect('result' in (await t.run({ amount: 1 }, caps(probe.call), answer).res)).toBe(true);
  });
});

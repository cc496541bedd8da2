// Approvals on two gateway instances sharing Redis (`approvals.store: redis`), at the MCP step: the
// approval request rate is one count for both, exact under concurrent asks; a 2026 approval state
// lives in Redis only while it can still be used (gone once the retry spent it, whatever the
// answer), and a spent state cannot be replayed on the other instance.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditRecorder } from '../audit/step.js';
import { createRedactor } from '../audit/redact.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { JsonRpcResponse } from '../mcp/jsonrpc.js';
import { payCall } from '../../test/helpers/pay-call.js';
import { ensureRedis, REDIS_HOST, REDIS_PORT, dropPrefix } from '../../test/helpers/redis.js';
import { RedisApprovalStore } from './redis-store.js';
import { ApprovalRules } from './rules.js';
import { approvalRuleSchema } from './schema.js';
import { ApprovalService } from './service.js';
import { StateSealer, stateKeys } from './state.js';
import { approvalsStep } from './step.js';

const available = await ensureRedis();
const log = pino({ level: 'silent' });
const redis = new Redis(REDIS_PORT, REDIS_HOST);
const prefixes: string[] = [];
const services: ApprovalService[] = [];
const SEAL_KEY = Buffer.alloc(32, 9).toString('base64');

afterAll(async () => {
  for (const s of services) await s.close();
  for (const p of prefixes) await dropPrefix(redis, p);
  await redis.quit();
});

/** One gateway instance's approvals step over the shared Redis prefix. */
function instance(prefix: string, name: string, rate = { limit: 60, periodMs: 600_000 }) {
  const store = new RedisApprovalStore({
    client: new Redis(REDIS_PORT, REDIS_HOST),
    subscriber: new Redis(REDIS_PORT, REDIS_HOST),
    prefix,
    instance: name,
    log,
  });
  const svc = new ApprovalService({
    store,
    config: {
      store: 'redis',
      keepaliveMs: 15_000,
      maxPending: 100,
      maxPendingPerAgent: 20,
      requestRate: rate,
      webhook: undefined,
    },
    recorder: new AuditRecorder(undefined, name),
    redact: createRedactor({ keys: [], maxValueBytes: 2048 }),
    describe: () => 'Sends money',
    instance: name,
    baseUrl: () => undefined,
    registry: new Registry(),
    log,
  });
  services.push(svc);
  const rules = new ApprovalRules([
    { ...approvalRuleSchema.parse({ tool: 'pay__*', ask: 'user', timeout: '10m' }), index: 0, source: 'a.yaml' },
  ]);
  const policies = { approvalsFor: () => ({ rules, groups: [] }) } as unknown as PolicySet;
  const step = approvalsStep({
    service: svc,
    policies: () => policies,
    sealer: new StateSealer(stateKeys([SEAL_KEY])),
  });
  let ran = 0;
  /** A 2026 agent's tools/call (no session, can elicit). */
  const call = (args: Record<string, unknown>, params: Record<string, unknown> = {}) =>
    step(payCall(args, params, { elicitation: {} }), async (): Promise<JsonRpcResponse> => {
      ran++;
      return { jsonrpc: '2.0', id: 1, result: { content: [] } };
    });
  return { call, ran: () => ran };
}

function freshPrefix(): string {
  const p = `tollgate-test:approvals-step:${randomUUID().slice(0, 8)}:`;
  prefixes.push(p);
  return p;
}

const stateOf = (r: JsonRpcResponse): string =>
  (r as unknown as { result: { requestState: string } }).result.requestState;
const accept = (state: string) => ({
  requestState: state,
  inputResponses: { tollgate_approval: { action: 'accept' } },
});

describe.runIf(available)('approvals on two instances sharing Redis', () => {
  it('the approval request rate is one count for both instances, exact under concurrent asks', async () => {
    const prefix = freshPrefix();
    const rate = { limit: 3, periodMs: 3_600_000 };
    const a = instance(prefix, 'gw-a', rate);
    const b = instance(prefix, 'gw-b', rate);
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).call({ amount: i })));
    const asked = answers.filter((r) => 'result' in r && r.result.resultType === 'input_required');
    const limited = answers.filter((r) => 'error' in r && r.error.code === -32029);
    expect(asked).toHaveLength(3);
    expect(limited).toHaveLength(5);
    // The rate's own key expires by itself (when its period has passed).
    const rateKeys = (await redis.keys(`${prefix}*`)).filter((k) => k.includes(':rate:'));
    expect(rateKeys).toHaveLength(1);
    expect(await redis.pttl(rateKeys[0]!)).toBeGreaterThan(0);
  });

  /** Keys that belong to approval states (not the instances' heartbeats, not the request rate). */
  const stateKeysIn = async (prefix: string) =>
    (await redis.keys(`${prefix}*`)).filter((k) => !k.includes(':holder:') && !k.includes(':rate:'));

  it('an approved 2026 retry leaves no key of its state behind, and the state cannot be replayed elsewhere', async () => {
    const prefix = freshPrefix();
    const a = instance(prefix, 'gw-a');
    const b = instance(prefix, 'gw-b');
    const state = stateOf(await a.call({ amount: 5 }));
    // While it can be used, the state's key has a TTL (it goes by itself if never answered).
    const live = await stateKeysIn(prefix);
    expect(live).toHaveLength(1);
    expect(await redis.pttl(live[0]!)).toBeGreaterThan(0);
    expect('result' in (await a.call({ amount: 5 }, accept(state)))).toBe(true);
    expect(a.ran()).toBe(1);
    expect(await stateKeysIn(prefix)).toEqual([]);
    // B never saw the state used (its own memory knows nothing): Redis still says no.
    await expect(b.call({ amount: 5 }, accept(state))).rejects.toThrow(/already used/);
    expect(b.ran()).toBe(0);
  });

  it('a declined 2026 answer leaves no key either', async () => {
    const prefix = freshPrefix();
    const a = instance(prefix, 'gw-a');
    const state = stateOf(await a.call({ amount: 6 }));
    const declined = await a.call(
      { amount: 6 },
      { ...accept(state), inputResponses: { tollgate_approval: { action: 'decline' } } },
    );
    expect(declined).toMatchObject({ error: { code: -32043, data: { approval: { status: 'declined' } } } });
    expect(await stateKeysIn(prefix)).toEqual([]);
  });
});

// A 2025 agent's call to a 2026-era upstream that answers `input_required`: the agent cannot read
// such a result, but it can answer real server-to-client requests. Each round's inputRequests are
// sent to the agent on its call's stream (as a 2025 upstream's requests would be), the answers are
// collected, and the call is retried upstream with `inputResponses` and the upstream's own
// (opaque) `requestState`, until the upstream completes. Bounded as the v2 SDK client bounds it.
import { errorMessage, isObject, type JsonRpcError, type JsonRpcResponse } from '../mcp/jsonrpc.js';
import { GatewayError } from '../errors.js';
import type { AgentSession } from '../mcp/agent-session.js';
import type { Exchange, RequestScope } from './scope.js';

const MAX_ROUNDS = 8;
const MAX_ROUND_MS = 600_000;

/** Which client capability each input request needs. */
const NEEDS = new Map<string, string>([
  ['elicitation/create', 'elicitation'],
  ['sampling/createMessage', 'sampling'],
  ['roots/list', 'roots'],
]);

export const isInputRequired = (res: JsonRpcResponse): boolean =>
  'result' in res && res.result.resultType === 'input_required';

interface InputRequest {
  method: string;
  params: Record<string, unknown> | undefined;
}

/** The round's requests, checked: a malformed or unaskable one ends the call with a clear error. */
function requestsOf(result: Record<string, unknown>, capabilities: Record<string, unknown>): [string, InputRequest][] {
  const asked = result.inputRequests;
  if (!isObject(asked))
    throw new GatewayError('upstream_bad_response', 'upstream answered input_required without inputRequests');
  const out: [string, InputRequest][] = [];
  for (const [key, r] of Object.entries(asked)) {
    if (!isObject(r) || typeof r.method !== 'string')
      throw new GatewayError('upstream_bad_response', `upstream inputRequests["${key}"] is not a request`);
    const needed = NEEDS.get(r.method);
    if (needed === undefined)
      throw new GatewayError('upstream_bad_response', `upstream asked for ${r.method}, which agents are never asked`);
    if (!(needed in capabilities)) {
      throw new GatewayError(
        'missing_capability',
        `this call needs the client capability ${needed}, which the agent did not declare at initialize`,
        {
          requiredCapabilities: { [needed]: {} },
        },
      );
    }
    out.push([key, { method: r.method, params: isObject(r.params) ? r.params : undefined }]);
  }
  return out;
}

export interface BridgeContext {
  scope: RequestScope & { session: AgentSession };
  exchange: Exchange;
  upstreamName: string;
  /** Bounds one round's wait for the agent (the upstream's max_total). */
  roundMs: number;
  /** Set while the agent is being asked: the agent cancelling its call ends the wait. */
  onCancel: (cancel: (() => void) | undefined) => void;
}

/** Runs input rounds until the upstream completes; `retry` repeats the call with the given extra params. */
export async function bridgeInput(
  ctx: BridgeContext,
  first: JsonRpcResponse,
  retry: (extra: Record<string, unknown>) => Promise<JsonRpcResponse>,
): Promise<JsonRpcResponse> {
  let res = first;
  for (let round = 0; 'result' in res && isInputRequired(res); round++) {
    if (round >= MAX_ROUNDS)
      throw new GatewayError('upstream_bad_response', `upstream asked for input more than ${MAX_ROUNDS} rounds`);
    const asked = requestsOf(res.result, ctx.scope.capabilities);
    const cancels = new Set<() => void>();
    ctx.onCancel(() => [...cancels].forEach((c) => c()));
    const answers = await Promise.all(
      asked.map(async ([key, r]) => [key, await ask(ctx, r, cancels)] as const),
    ).finally(() => ctx.onCancel(undefined));
    const failed = answers.find(([, a]) => 'error' in a);
    if (failed) return errorMessage(0, (failed[1] as JsonRpcError).error);
    const inputResponses = Object.fromEntries(answers.map(([k, a]) => [k, 'result' in a ? a.result : {}]));
    const state = res.result.requestState;
    res = await retry(state === undefined ? { inputResponses } : { inputResponses, requestState: state });
  }
  return res;
}

/** One server-to-client request to the agent; resolves with its answer (a result or an error). */
function ask(ctx: BridgeContext, r: InputRequest, cancels: Set<() => void>): Promise<JsonRpcResponse> {
  const session = ctx.scope.session;
  const id = session.newServerRequestId();
  return new Promise<JsonRpcResponse>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      session.serverRequests.delete(id);
      cancels.delete(cancel);
    };
    const cancel = (): void => {
      done();
      reject(new GatewayError('cancelled', 'request cancelled'));
    };
    cancels.add(cancel);
    const timer = setTimeout(
      () => {
        done();
        reject(new GatewayError('upstream_timeout', `the agent did not answer ${r.method} in time`));
      },
      Math.min(ctx.roundMs, MAX_ROUND_MS),
    );
    // The answer comes back through relay.handleResponse (audited there), which calls respond().
    session.serverRequests.set(id, {
      upstreamSession: {
        respond: (answer: JsonRpcResponse) => {
          done();
          resolve(answer);
        },
      },
      upstreamRequestId: id,
      method: r.method,
      upstream: ctx.upstreamName,
    });
    ctx.exchange.emit(
      r.params === undefined
        ? { jsonrpc: '2.0', id, method: r.method }
        : { jsonrpc: '2.0', id, method: r.method, params: r.params },
    );
  });
}

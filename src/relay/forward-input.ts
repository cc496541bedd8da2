// Forwards a 2026 agent's tools/call, prompts/get or resources/read to a 2025-era upstream, turning
// the upstream's server-to-client requests into `input_required` rounds (multi round-trip
// requests). A fresh call starts an InputFlow; a retry with `requestState` resumes the parked one,
// answers the upstream with the retry's `inputResponses`, and waits for the next step.
import {
  errorMessage,
  isObject,
  progressTokenOf,
  resultMessage,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../mcp/jsonrpc.js';
import { GatewayError } from '../errors.js';
import type { Upstream } from '../upstream/upstream.js';
import { InputFlow, type Answered } from './input-flow.js';
import type { InputFlows } from './input-flows.js';
import type { Exchange, McpCall, RequestScope } from './scope.js';
import { rewriteResult } from './rewrite.js';
import { scopeFields, type AuditRecorder } from '../audit/step.js';
import type { Logger } from 'pino';

/** The requests SEP-2322 lets a server answer with input_required. */
export const INPUT_METHODS = new Set(['tools/call', 'prompts/get', 'resources/read']);

export interface InputForwardDeps {
  flows: InputFlows;
  recorder: AuditRecorder;
  log: Logger;
}

/** Each answer the agent gave is one record (as for 2025 agents), written before it goes upstream. */
async function recordAnswers(
  deps: InputForwardDeps,
  scope: RequestScope,
  req: JsonRpcRequest,
  upstream: string,
  answered: readonly Answered[],
): Promise<void> {
  await Promise.all(
    answered.map((a) =>
      deps.recorder.record({
        ...scopeFields(scope),
        'mcp.method.name': a.method,
        'jsonrpc.request.id': req.id,
        'tollgate.upstream.name': upstream,
      }),
    ),
  ).catch((err: unknown) => deps.log.error({ err }, 'audit write failed'));
}

/** `inputResponses` must be an object whose values are result objects. */
function checkResponses(v: unknown): Record<string, Record<string, unknown>> {
  if (v === undefined) return {};
  if (!isObject(v)) throw new GatewayError('invalid_params', 'Invalid params: inputResponses must be an object');
  for (const [k, r] of Object.entries(v)) {
    if (!isObject(r))
      throw new GatewayError('invalid_params', `Invalid params: inputResponses["${k}"] must be a result object`);
  }
  return v as Record<string, Record<string, unknown>>;
}

export async function forwardWithInput(
  deps: InputForwardDeps,
  scope: RequestScope,
  req: JsonRpcRequest,
  upstream: Upstream,
  params: Record<string, unknown> | undefined,
  exchange: Exchange,
  headers: Readonly<Record<string, string>> | undefined,
  call: McpCall,
): Promise<JsonRpcResponse> {
  // Neither field means anything to a 2025 upstream: they stay here.
  const { requestState, inputResponses, ...upstreamParams } = params ?? {};
  const responses = checkResponses(inputResponses);
  if (requestState !== undefined && typeof requestState !== 'string')
    throw new GatewayError('invalid_params', 'Invalid params: requestState must be a string');
  const target = call.target?.canonical ?? '';
  const round = {
    exchange,
    progressToken: progressTokenOf(req.params),
    capabilities: scope.capabilities,
    logLevel: scope.logLevel,
  };
  const started = performance.now();
  let flow: InputFlow;
  if (requestState !== undefined) {
    flow = deps.flows.take(requestState, scope.agentId, req.method, target);
    flow.attach(round);
    const answered = flow.answerable(responses);
    if (answered.length > 0) await recordAnswers(deps, scope, req, upstream.name, answered);
    flow.deliver(responses);
  } else {
    const session = await upstream.sessionFor(undefined, scope.capabilities, scope.agentId);
    flow = new InputFlow(scope.agentId, req.method, target, upstream.name, session, upstream.cfg.timeouts);
    flow.attach(round);
    flow.start(params === undefined ? undefined : upstreamParams, headers);
  }
  try {
    const step = await flow.next();
    call.upstreamMs = performance.now() - started;
    if (step.kind === 'final') {
      const res = step.response;
      if ('error' in res) return errorMessage(req.id, res.error);
      return resultMessage(req.id, rewriteResult(req.method, res.result, scope.view, upstream));
    }
    let requestStateOut: string;
    try {
      requestStateOut = deps.flows.park(flow);
    } catch (err) {
      flow.abandon(err instanceof Error ? err.message : 'refused');
      throw err;
    }
    return resultMessage(req.id, {
      resultType: 'input_required',
      inputRequests: step.requests,
      requestState: requestStateOut,
    });
  } catch (err) {
    call.upstreamMs ??= performance.now() - started;
    throw err;
  } finally {
    flow.detach();
  }
}

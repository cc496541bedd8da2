// The parked calls of this gateway instance: each waits for its agent's retry for at most the TTL,
// and their number is capped per agent and in all. A parked call is taken out while a retry
// serves it, so two retries with the same requestState cannot both drive it.
import { GatewayError } from '../errors.js';
import type { InputFlow } from './input-flow.js';
import { RequestStateSealer } from './request-state.js';

export interface InputFlowLimits {
  ttlMs: number;
  maxPerAgent: number;
  maxParked: number;
}

interface Parked {
  flow: InputFlow;
  round: number;
  timer: NodeJS.Timeout;
}

export class InputFlows {
  private readonly parked = new Map<string, Parked>();
  private readonly perAgent = new Map<string, number>();
  /** Rounds handed out per flow id (kept while the flow lives, parked or being served). */
  private readonly rounds = new WeakMap<InputFlow, number>();
  private closed = false;

  constructor(
    private readonly limits: InputFlowLimits,
    private readonly sealer = new RequestStateSealer(),
  ) {}

  get size(): number {
    return this.parked.size;
  }

  /** Parks a flow that just asked its agent for input; returns the round's requestState. */
  park(flow: InputFlow): string {
    const count = this.perAgent.get(flow.agentId) ?? 0;
    if (this.closed) throw new GatewayError('upstream_unavailable', 'the gateway is shutting down');
    if (count >= this.limits.maxPerAgent || this.parked.size >= this.limits.maxParked) {
      const which =
        count >= this.limits.maxPerAgent
          ? `${this.limits.maxPerAgent} for this agent`
          : `${this.limits.maxParked} in all`;
      throw new GatewayError('rate_limited', `too many calls waiting for input (${which})`, {
        retryAfterSeconds: null,
        limit: 'input_required parked calls',
        remaining: 0,
      });
    }
    const round = (this.rounds.get(flow) ?? 0) + 1;
    this.rounds.set(flow, round);
    const timer = setTimeout(() => {
      if (this.remove(flow.id)) flow.abandon('the agent did not answer the input request in time');
    }, this.limits.ttlMs);
    timer.unref();
    this.parked.set(flow.id, { flow, round, timer });
    this.perAgent.set(flow.agentId, count + 1);
    flow.parked(this.limits.ttlMs);
    return this.sealer.seal({ flow: flow.id, round, agent: flow.agentId, exp: Date.now() + this.limits.ttlMs });
  }

  /** The parked flow a retry names, taken out for that retry; invalid_params if it cannot be. */
  take(state: string, agentId: string, method: string, target: string): InputFlow {
    const sealed = this.sealer.open(state, agentId);
    if (typeof sealed === 'string') throw new GatewayError('invalid_params', `Invalid requestState: ${sealed}`);
    const p = this.parked.get(sealed.flow);
    if (!p)
      throw new GatewayError(
        'invalid_params',
        'Invalid requestState: its call has ended (answered, expired, or held by another gateway instance); call again without it',
      );
    if (p.round !== sealed.round)
      throw new GatewayError('invalid_params', 'Invalid requestState: it is from an earlier round of this call');
    if (p.flow.method !== method || p.flow.target !== target)
      throw new GatewayError('invalid_params', 'Invalid requestState: it belongs to another request');
    this.remove(sealed.flow);
    return p.flow;
  }

  /** Shutdown: every parked call is abandoned (its upstream hears so); later parks are refused. */
  closeAll(): void {
    this.closed = true;
    for (const id of [...this.parked.keys()]) {
      const p = this.parked.get(id);
      if (p && this.remove(id)) p.flow.abandon('the gateway is shutting down');
    }
  }

  private remove(id: string): boolean {
    const p = this.parked.get(id);
    if (!p) return false;
    clearTimeout(p.timer);
    this.parked.delete(id);
    const n = (this.perAgent.get(p.flow.agentId) ?? 1) - 1;
    if (n > 0) this.perAgent.set(p.flow.agentId, n);
    else this.perAgent.delete(p.flow.agentId);
    return true;
  }
}

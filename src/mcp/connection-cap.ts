// A cap on something agents hold open (sessions, SSE streams): per agent and in total. Slots are
// taken when the thing opens and given back, once, when it ends, so the counts follow what is open.
import { GatewayError } from '../errors.js';

/** A held place under a cap; `release` is idempotent. */
export interface Slot {
  release(): void;
}

/** Seconds a refused agent is told to wait when the gateway as a whole is full (a hint only). */
export const FULL_RETRY_AFTER_SECONDS = 5;

export class ConnectionCap {
  private readonly perAgent = new Map<string, number>();
  private count = 0;

  constructor(
    /** What is capped, plural, for error messages: "sessions", "SSE streams". */
    readonly what: string,
    readonly maxTotal: number,
    readonly maxPerAgent: number,
  ) {}

  get total(): number {
    return this.count;
  }

  of(agent: string): number {
    return this.perAgent.get(agent) ?? 0;
  }

  /** Whether `take` would succeed now (without taking). */
  refusal(agent: string): GatewayError | undefined {
    // The agent's own cap first: it is the one thing the agent can fix by closing its own.
    if (this.of(agent) >= this.maxPerAgent) {
      return new GatewayError(
        'rate_limited',
        `too many open ${this.what} for this agent (limit ${this.maxPerAgent}); close one first`,
        {
          limit: `${this.what} per agent`,
          remaining: 0,
          retryAfterSeconds: null,
        },
      );
    }
    if (this.count >= this.maxTotal) {
      return new GatewayError(
        'over_capacity',
        `the gateway holds its maximum of ${this.maxTotal} ${this.what}; retry later`,
        {
          limit: `${this.what} in total`,
          retryAfterSeconds: FULL_RETRY_AFTER_SECONDS,
        },
      );
    }
    return undefined;
  }

  /** A slot for the agent, or the error to answer with. */
  take(agent: string): Slot | GatewayError {
    return this.refusal(agent) ?? this.force(agent);
  }

  /** A slot even over the cap: for what continues something already admitted (see README). */
  force(agent: string): Slot {
    this.count++;
    this.perAgent.set(agent, this.of(agent) + 1);
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        this.count--;
        const n = this.of(agent) - 1;
        if (n > 0) this.perAgent.set(agent, n);
        else this.perAgent.delete(agent);
      },
    };
  }
}

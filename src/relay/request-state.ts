// The `requestState` Tollgate hands a 2026 agent with an input_required round. It comes back from
// the agent, so it is attacker-controlled input: HMAC-SHA256 with a per-process random key, bound
// to the agent, an expiry and the parked call and round it names. A parked call lives in this
// process's memory, so a key that dies with the process loses nothing.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface SealedRound {
  /** The parked call's id. */
  flow: string;
  /** Which round of that call (an older round's state is stale). */
  round: number;
  agent: string;
  /** Expiry, ms since the epoch. */
  exp: number;
}

export class RequestStateSealer {
  constructor(private readonly key: Buffer = randomBytes(32)) {}

  seal(s: SealedRound): string {
    const payload = Buffer.from(JSON.stringify([s.flow, s.round, s.agent, s.exp])).toString('base64url');
    return `${payload}.${this.mac(payload)}`;
  }

  /** The sealed round, or why the state is refused. */
  open(state: string, agentId: string, now = Date.now()): SealedRound | string {
    const dot = state.indexOf('.');
    const payload = state.slice(0, dot);
    // Compare the exact text (constant time): base64url decoding would ignore stray characters.
    const given = Buffer.from(state.slice(dot + 1));
    const expected = Buffer.from(this.mac(payload));
    if (dot <= 0 || given.length !== expected.length || !timingSafeEqual(given, expected))
      return 'requestState failed verification';
    let fields: unknown;
    try {
      fields = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return 'requestState failed verification';
    }
    if (!Array.isArray(fields) || fields.length !== 4) return 'requestState failed verification';
    const [flow, round, agent, exp] = fields as unknown[];
    if (typeof flow !== 'string' || typeof round !== 'number' || typeof agent !== 'string' || typeof exp !== 'number')
      return 'requestState failed verification';
    if (agent !== agentId) return 'requestState belongs to another agent';
    if (exp <= now) return 'requestState has expired';
    return { flow, round, agent, exp };
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}

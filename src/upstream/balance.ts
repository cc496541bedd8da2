// Which replica a new agent session (or a stateless request) goes to. Pure over a small interface so
// each strategy is tested on its own.
import { createHash } from 'node:crypto';
import type { BalanceConfig } from '../config/runtime.js';

export interface Candidate {
  readonly key: string;
  /** Connected, passing health checks, not ejected. */
  readonly usable: boolean;
  /** Connected, whatever its health: used when no replica is usable (better a chance than a sure failure). */
  readonly connected: boolean;
  readonly assigned: number;
  readonly weight: number;
}

/** Strategy state that lives as long as the upstream: round-robin cursor, smooth-weighted credits. */
export class BalanceState {
  cursor = 0;
  readonly credit = new Map<string, number>();
}

export function pick<C extends Candidate>(
  all: readonly C[],
  strategy: BalanceConfig['strategy'],
  key: string,
  st: BalanceState,
): C | undefined {
  let usable = all.filter((r) => r.usable);
  if (usable.length === 0) usable = all.filter((r) => r.connected); // panic routing, as Envoy does
  if (usable.length <= 1) return usable[0];
  switch (strategy) {
    case 'least_sessions': {
      // Ties rotate, so a burst of new sessions spreads instead of piling on the first replica.
      const start = st.cursor++ % usable.length;
      let best = usable[start] as C;
      for (let i = 1; i < usable.length; i++) {
        const r = usable[(start + i) % usable.length] as C;
        if (r.assigned < best.assigned) best = r;
      }
      return best;
    }
    case 'round_robin':
      return usable[st.cursor++ % usable.length];
    case 'weighted':
      return smoothWeighted(usable, st);
    case 'consistent_hash':
      return rendezvous(usable, key);
  }
}

/** nginx's smooth weighted round-robin: weights 5,1,1 give a a b a c a a, not a a a a a b c. */
function smoothWeighted<C extends Candidate>(usable: readonly C[], st: BalanceState): C {
  let total = 0;
  let best: C | undefined;
  let bestCredit = -Infinity;
  for (const r of usable) {
    const credit = (st.credit.get(r.key) ?? 0) + r.weight;
    st.credit.set(r.key, credit);
    total += r.weight;
    if (credit > bestCredit) {
      best = r;
      bestCredit = credit;
    }
  }
  const chosen = best as C;
  st.credit.set(chosen.key, bestCredit - total);
  return chosen;
}

/** Highest-random-weight hashing: when a replica leaves, only the keys it held move. */
function rendezvous<C extends Candidate>(usable: readonly C[], key: string): C {
  let best = usable[0] as C;
  let bestScore = -1;
  for (const r of usable) {
    const score = createHash('sha256').update(`${key}\0${r.key}`).digest().readUInt32BE(0);
    if (score > bestScore) {
      best = r;
      bestScore = score;
    }
  }
  return best;
}

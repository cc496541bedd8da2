// Which deployment serves a call. A Target is one (upstream, model) pair with state shared by every
// pool that contains it: calls in flight, EWMA latency, the circuit breaker, and a not-before time
// from the upstream's retry-after. A Pool is one model name's deployments and routing strategy.
import type { ApiKind, LlmConfig, LlmUpstreamConfig } from './runtime.js';
import type { Strategy } from './schema.js';

/** Per-upstream counters (max_concurrency spans all of an upstream's models). */
export interface UpstreamState {
  readonly config: LlmUpstreamConfig;
  inFlight: number;
}

export class Target {
  inFlight = 0;
  /** EWMA of time to first byte, ms; undefined until measured (unmeasured targets are tried first). */
  ewmaMs: number | undefined;
  failures = 0;
  /** 0: closed. Otherwise the circuit is open until then, and half-open (one probe) after. */
  openUntil = 0;
  probing = false;
  /** Set from retry-after (429/503): no call before this time. */
  blockedUntil = 0;

  constructor(
    readonly upstream: UpstreamState,
    readonly model: string,
  ) {}

  get name(): string {
    return this.upstream.config.name;
  }
}

export interface Member {
  target: Target;
  weight: number;
  priority: number;
}

export interface Pool {
  /** The name the agent asked for. */
  name: string;
  strategy: Strategy;
  members: Member[];
  /** Smooth weighted round robin counters, one per member. */
  current: number[];
}

const EWMA_ALPHA = 0.3;

/** Breaker and latency bookkeeping, on an injectable clock. */
export class Health {
  constructor(
    private readonly failuresToOpen: number,
    private readonly cooldownMs: number,
    readonly now: () => number,
  ) {}

  /** May this target take a call now (circuit closed, or half-open with no probe out; upstream not full)? */
  usable(t: Target, now: number): boolean {
    if (t.openUntil !== 0 && (now < t.openUntil || t.probing)) return false;
    const max = t.upstream.config.maxConcurrency;
    return max === undefined || t.upstream.inFlight < max;
  }

  begin(t: Target, now: number): void {
    if (t.openUntil !== 0 && now >= t.openUntil) t.probing = true;
    t.inFlight++;
    t.upstream.inFlight++;
  }

  end(t: Target): void {
    t.inFlight--;
    t.upstream.inFlight--;
  }

  success(t: Target, latencyMs: number): void {
    t.failures = 0;
    t.openUntil = 0;
    t.probing = false;
    t.ewmaMs = t.ewmaMs === undefined ? latencyMs : t.ewmaMs + EWMA_ALPHA * (latencyMs - t.ewmaMs);
  }

  /** A failure of the deployment itself (connect error, timeout, 5xx); not a 4xx or a 429. */
  failure(t: Target): void {
    t.failures++;
    if (t.probing || t.failures >= this.failuresToOpen) t.openUntil = this.now() + this.cooldownMs;
    t.probing = false;
  }

  /** The probe slot is given back when a half-open call ended neither way (e.g. a 4xx). */
  neutral(t: Target): void {
    t.probing = false;
  }

  block(t: Target, untilMs: number): void {
    t.blockedUntil = Math.max(t.blockedUntil, untilMs);
  }
}

/** Usable members in the order this call should try them. */
export function rank(pool: Pool, health: Health, now: number): Member[] {
  const ok: number[] = [];
  pool.members.forEach((m, i) => {
    if (health.usable(m.target, now)) ok.push(i);
  });
  if (ok.length <= 1) return ok.map((i) => pool.members[i]!);
  const byWeight = (a: number, b: number): number => pool.members[b]!.weight - pool.members[a]!.weight;
  switch (pool.strategy) {
    case 'weighted_round_robin': {
      const first = swrr(pool, ok);
      return [first, ...ok.filter((i) => i !== first).sort(byWeight)].map((i) => pool.members[i]!);
    }
    case 'priority': {
      const tiers = [...new Set(ok.map((i) => pool.members[i]!.priority))].sort((a, b) => a - b);
      const out: number[] = [];
      for (const p of tiers) {
        const tier = ok.filter((i) => pool.members[i]!.priority === p);
        const first = swrr(pool, tier);
        out.push(first, ...tier.filter((i) => i !== first).sort(byWeight));
      }
      return out.map((i) => pool.members[i]!);
    }
    case 'least_latency': {
      const lat = (i: number): number => pool.members[i]!.target.ewmaMs ?? 0;
      return ok.sort((a, b) => lat(a) - lat(b) || byWeight(a, b)).map((i) => pool.members[i]!);
    }
    case 'least_in_flight': {
      const load = (i: number): number => pool.members[i]!.target.inFlight / pool.members[i]!.weight;
      return ok.sort((a, b) => load(a) - load(b) || byWeight(a, b)).map((i) => pool.members[i]!);
    }
  }
}

/** Smooth weighted round robin (nginx): exact proportions, evenly interleaved, no randomness. */
function swrr(pool: Pool, among: number[]): number {
  let total = 0;
  let best = among[0]!;
  for (const i of among) {
    const w = pool.members[i]!.weight;
    total += w;
    pool.current[i] = (pool.current[i] ?? 0) + w;
    if (pool.current[i]! > pool.current[best]!) best = i;
  }
  pool.current[best] = pool.current[best]! - total;
  return best;
}

/** Model name (alias or upstream model) → pool, per API kind; built once from the config. */
export class Resolver {
  readonly upstreams = new Map<string, UpstreamState>();
  private readonly targets = new Map<string, Target>();
  private readonly pools: Record<ApiKind, Map<string, Pool>> = { openai: new Map(), anthropic: new Map() };
  /** Every model name an agent may ask for (aliases first). */
  readonly names: string[] = [];

  constructor(config: LlmConfig) {
    for (const u of config.upstreams) this.upstreams.set(u.name, { config: u, inFlight: 0 });
    const add = (kind: ApiKind, name: string, strategy: Strategy, members: Member[]): void => {
      if (members.length > 0) this.pools[kind].set(name, { name, strategy, members, current: members.map(() => 0) });
    };
    for (const a of config.aliases) {
      for (const kind of ['openai', 'anthropic'] as const) {
        const ms = a.deployments
          .filter((d) => this.upstreams.get(d.upstream)?.config.kind === kind)
          .map((d) => ({ target: this.target(d.upstream, d.model), weight: d.weight, priority: d.priority }));
        add(kind, a.name, a.strategy, ms);
      }
      this.names.push(a.name);
    }
    const direct = new Map<string, Member[]>();
    for (const u of config.upstreams) {
      for (const model of u.models) {
        const key = `${u.kind}\u0000${model}`;
        const list = direct.get(key) ?? [];
        list.push({ target: this.target(u.name, model), weight: u.weight, priority: u.priority });
        direct.set(key, list);
      }
    }
    for (const [key, members] of direct) {
      const [kind, model] = key.split('\u0000') as [ApiKind, string];
      if (!this.pools[kind].has(model)) add(kind, model, config.strategy, members);
      if (!this.names.includes(model)) this.names.push(model);
    }
  }

  resolve(kind: ApiKind, model: string): Pool | undefined {
    return this.pools[kind].get(model);
  }

  /** Whether the name exists for some API (for "wrong endpoint" vs "unknown model"). */
  known(model: string): boolean {
    return this.pools.openai.has(model) || this.pools.anthropic.has(model);
  }

  private target(upstream: string, model: string): Target {
    const key = `${upstream}\u0000${model}`;
    let t = this.targets.get(key);
    if (!t) this.targets.set(key, (t = new Target(this.upstreams.get(upstream)!, model)));
    return t;
  }
}

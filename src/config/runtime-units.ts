// Durations and rates in runtime units (ms); separate so both runtime.ts and runtime-upstreams.ts use them without a cycle.
import type { DurationInput } from './schema.js';
import { perToMs, type RateInput } from '../limits/schema.js';

export function toMs(d: DurationInput): number {
  if (typeof d === 'number') return d;
  const m = /^(\d+)(ms|s|m|h)$/.exec(d);
  if (!m) throw new Error(`bad duration ${d}`);
  const n = Number(m[1]);
  const unit = m[2];
  return unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000;
}

export interface Rate {
  limit: number;
  periodMs: number;
}

export const toRates = (rs: readonly RateInput[]): Rate[] =>
  rs.map((r) => ({ limit: r.limit, periodMs: perToMs(r.per) }));

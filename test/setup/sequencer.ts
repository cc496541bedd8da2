// Starts the longest files first. Without a duration cache (every fresh CI clone) vitest orders
// files by size, so the three ~60–80 s files often started last and ran on alone at the end of
// the run, with two of the three workers idle.
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Longest first, as measured in a whole-suite run (seconds, 3 workers on the 2-core machine, lightly loaded). */
const SLOW_FIRST = [
  'test/e2e/conformance-2026.test.ts', // ~40
  'test/e2e/image-smoke.test.ts', // ~38
  'test/e2e/pins.test.ts', // ~37
  'test/e2e/audit-fleet.test.ts', // ~30: two gateways, PostgreSQL, Chromium
  'test/hardening/fuzz.test.ts', // ~29
  'test/e2e/limits-redis.test.ts', // ~28
  'test/e2e/conformance.test.ts', // ~26
  'test/e2e/cli.test.ts', // ~25 (its commands run concurrently)
  'test/e2e/oauth.test.ts', // ~25: IdP process, Chromium, mcp-remote
  'test/hardening/upstream-faults.test.ts', // ~22
  'test/e2e/approvals.test.ts', // ~21: two gateways, Redis, Chromium
  'test/e2e/limits.test.ts', // ~21
  'test/hardening/descriptors.test.ts', // ~21
  'test/e2e/cli-startup.test.ts', // ~20
  'test/e2e/upstream-credentials.test.ts', // ~18: IdP process, Chromium
];

export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = SLOW_FIRST.findIndex((p) => f.moduleId.endsWith(p));
      return i < 0 ? SLOW_FIRST.length : i;
    };
    return base
      .map((f, i) => ({ f, i }))
      .sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i)
      .map(({ f }) => f);
  }
}

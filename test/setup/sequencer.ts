// Starts the longest files first. Without a duration cache (every fresh CI clone) vitest orders
// files by size, so the three ~60–80 s files often started last and ran on alone at the end of
// the run, with two of the three workers idle.
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Longest first, as measured in CI runs (seconds in a 3-worker run on the 2-core machine). */
const SLOW_FIRST = [
  'test/e2e/conformance-2026.test.ts', // ~75
  'test/e2e/cli.test.ts', // ~70
  'test/e2e/conformance.test.ts', // ~30-60
  'test/e2e/cli-startup.test.ts', // ~45
  'test/hardening/slow-agents.test.ts', // ~31: waits out the gateway's 30 s cut-off
  'test/e2e/limits.test.ts', // ~29
  'test/e2e/oauth.test.ts', // ~20-38: one gateway, an OpenID Provider process and Chromium
  'test/hardening/descriptors.test.ts', // ~23
  'test/e2e/tool-result-budget.test.ts', // ~22
  'test/e2e/limits-redis.test.ts', // ~22
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

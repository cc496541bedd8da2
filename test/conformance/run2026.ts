/**
 * Runs the MCP conformance suite 0.2.0-alpha.x (installed as the npm alias `conformance-next`,
 * beside 0.1.16) in server mode against a Streamable HTTP URL with a frozen requirement set, and
 * returns counts over the SCORED scenarios of that set only.
 *
 *   const r = await runConformance2026(url, { requirements: '2026-07-28' });
 *   expect(r.failures).toEqual([]);   // r.scenarios.length === 37 for 2026-07-28, 30 for 2025-11-25
 *
 * Spawns: node node_modules/conformance-next/dist/index.js (on Node 20 a rewritten copy, see cli-entry.ts)
 *           server --url <url> --requirements <r> -o <tmpdir>
 *
 * `--requirements` also runs the set's `not_scored` scenarios (tasks-* extension, pending ones);
 * the CLI's printed total includes them. The scored list is read from the package's own
 * requirements/<r>.yaml (`server:`), so counts follow the installed version. Unscored results
 * are returned separately in `unscored`.
 *
 * Node 20: the bundled CLI imports `fs.globSync` (Node >= 22); cli-entry.ts rewrites that
 * import for both the 0.1 package and this alias.
 */
import { conformanceNodeArgs } from './cli-entry.js';
import { runCli } from './spawn-cli.js';
import { findChecksFiles, scenarioFromDir, summarise } from './results.js';
import fs from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseSummary, type ConformanceCheck, type ScenarioResult } from './run.js';

export type Requirements2026 = '2026-07-28' | '2025-11-25';

export interface RunConformance2026Options {
  requirements: Requirements2026;
  /** Kill the CLI after this many ms (default 120 000). */
  timeoutMs?: number;
  /** Count WARNING checks of scored scenarios as failures (default false, as the CLI does). */
  warningsAsFailures?: boolean;
  /** Keep the checks.json results directory (path returned in `resultsDir`). */
  keepResults?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface Conformance2026Result {
  /** SUCCESS checks in scored scenarios. */
  passed: number;
  /** FAILURE checks in scored scenarios (+ WARNING if warningsAsFailures, + 1 per scored scenario without results, + 1 on timeout). */
  failed: number;
  /** passed + failed. */
  total: number;
  /** WARNING checks in scored scenarios. */
  warnings: number;
  /** "<scenario>: <check name>: <message>" for each failing check of a scored scenario. */
  failures: string[];
  /** Scored scenarios, in requirements order. */
  scenarios: ScenarioResult[];
  /** Scenarios the CLI ran but the requirement set does not score (tasks-*, pending ones). */
  unscored: ScenarioResult[];
  /** The scored server scenario names from requirements/<r>.yaml. */
  scored: string[];
  output: string;
  exitCode: number | null;
  timedOut: boolean;
  resultsDir?: string;
}

const require = createRequire(import.meta.url);

export function conformanceNextDir(): string {
  return dirname(require.resolve('conformance-next/package.json'));
}

/** The scored server scenarios of a requirement set, from the installed package. */
export function scoredServerScenarios(requirements: Requirements2026): string[] {
  const doc = parseYaml(
    fs.readFileSync(join(conformanceNextDir(), 'requirements', `${requirements}.yaml`), 'utf8'),
  ) as { server?: unknown };
  if (!Array.isArray(doc.server) || doc.server.some((s) => typeof s !== 'string')) {
    throw new Error(`requirements/${requirements}.yaml: "server" is not a list of scenario names`);
  }
  return doc.server as string[];
}

export async function runConformance2026(url: string, opts: RunConformance2026Options): Promise<Conformance2026Result> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const scored = scoredServerScenarios(opts.requirements);
  const outDir = await mkdtemp(join(tmpdir(), 'tollgate-conformance2026-'));
  const args = [
    ...conformanceNodeArgs(conformanceNextDir(), 'conformance-next'),
    'server',
    '--url',
    url,
    '--requirements',
    opts.requirements,
    '-o',
    outDir,
  ];

  const { output, exitCode, timedOut } = await runCli(args, timeoutMs, opts.env);

  const byName = new Map<string, ScenarioResult>();
  for (const file of (await findChecksFiles(outDir)).sort()) {
    const checks = JSON.parse(await readFile(file, 'utf8')) as ConformanceCheck[];
    const name = scenarioFromDir(outDir, file);
    byName.set(name, summarise(name, checks));
  }
  if (byName.size === 0) for (const s of parseSummary(output)) byName.set(s.scenario, s);
  if (!opts.keepResults) await rm(outDir, { recursive: true, force: true });

  const scenarios: ScenarioResult[] = [];
  const failures: string[] = [];
  let missing = 0;
  for (const name of scored) {
    const s = byName.get(name);
    if (!s) {
      missing++;
      failures.push(`${name}: no results (scenario did not run or did not finish)`);
      continue;
    }
    scenarios.push(s);
    for (const c of s.checks) {
      if (c.status === 'FAILURE' || (opts.warningsAsFailures && c.status === 'WARNING')) {
        failures.push(`${s.scenario}: ${c.name}: ${c.errorMessage ?? c.description}`);
      }
    }
    if (s.checks.length === 0 && s.failed > 0) failures.push(`${s.scenario}: ${s.failed} failed check(s)`);
  }
  const unscored = [...byName.values()].filter((s) => !scored.includes(s.scenario));
  if (timedOut) failures.push(`conformance CLI timed out after ${timeoutMs}ms`);

  const passed = scenarios.reduce((n, s) => n + s.passed, 0);
  const warnings = scenarios.reduce((n, s) => n + s.warnings, 0);
  const failed =
    scenarios.reduce((n, s) => n + s.failed, 0) +
    (opts.warningsAsFailures ? warnings : 0) +
    missing +
    (timedOut ? 1 : 0);

  return {
    passed,
    failed,
    total: passed + failed,
    warnings,
    failures,
    scenarios,
    unscored,
    scored,
    output,
    exitCode,
    timedOut,
    resultsDir: opts.keepResults ? outDir : undefined,
  };
}

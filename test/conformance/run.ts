/**
 * Runs the official MCP conformance suite (@modelcontextprotocol/conformance, server
 * mode) against a Streamable HTTP URL and returns parsed results.
 *
 *   const r = await runConformance('http://127.0.0.1:1234/mcp');
 *   expect(r.failures).toEqual([]);
 *
 * Spawns: node <conformance>/dist/index.js (on Node 20 a rewritten copy, see cli-entry.ts)
 *           server --url <url> [--scenario S | --suite active] -o <tmpdir>
 * Counts come from the per-scenario checks.json files written to <tmpdir> (the CLI has
 * no JSON-to-stdout option in suite mode); stdout's "=== SUMMARY ===" block is the fallback.
 */
import { conformanceNodeArgs } from './cli-entry.js';
import { runCli } from './spawn-cli.js';
import { findChecksFiles, scenarioFromDir, summarise } from './results.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface RunConformanceOptions {
  /** Run one scenario (e.g. "dns-rebinding-protection") instead of a suite. */
  scenario?: string;
  /** "active" (default: all non-pending server scenarios), "all", or "pending". */
  suite?: 'active' | 'all' | 'pending';
  /** Filter scenarios by spec version, e.g. "2025-11-25". */
  specVersion?: string;
  /** Kill the CLI after this many ms (default 120 000). */
  timeoutMs?: number;
  /** Count WARNING checks as failures (default false; the CLI's own totals ignore them). */
  warningsAsFailures?: boolean;
  /** Keep the checks.json results directory (path returned in `resultsDir`). */
  keepResults?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface ConformanceCheck {
  id: string;
  name: string;
  description: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | string;
  errorMessage?: string;
  details?: unknown;
}

export interface ScenarioResult {
  scenario: string;
  passed: number;
  failed: number;
  warnings: number;
  checks: ConformanceCheck[];
}

export interface ConformanceResult {
  /** SUCCESS checks. */
  passed: number;
  /** FAILURE checks (+ WARNING if warningsAsFailures, + 1 if the CLI timed out or crashed without results). */
  failed: number;
  /** passed + failed. */
  total: number;
  warnings: number;
  /** stdout + stderr of the CLI. */
  output: string;
  /** "<scenario>: <check name>: <message>" for each failing check. */
  failures: string[];
  scenarios: ScenarioResult[];
  exitCode: number | null;
  timedOut: boolean;
  resultsDir?: string;
}

export function conformanceDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('@modelcontextprotocol/conformance/package.json'));
}

export function parseSummary(stdout: string): ScenarioResult[] {
  const out: ScenarioResult[] = [];
  for (const m of stdout.matchAll(/^[✓✗] (\S+): (\d+) passed, (\d+) failed/gmu)) {
    out.push({ scenario: m[1] ?? '?', passed: Number(m[2]), failed: Number(m[3]), warnings: 0, checks: [] });
  }
  const single = /^Passed: (\d+)\/\d+, (\d+) failed, (\d+) warnings/m.exec(stdout);
  if (out.length === 0 && single) {
    out.push({
      scenario: '(single)',
      passed: Number(single[1]),
      failed: Number(single[2]),
      warnings: Number(single[3]),
      checks: [],
    });
  }
  return out;
}

export async function runConformance(url: string, opts: RunConformanceOptions = {}): Promise<ConformanceResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const outDir = await mkdtemp(join(tmpdir(), 'tollgate-conformance-'));
  const args = [...conformanceNodeArgs(conformanceDir(), 'conformance'), 'server', '--url', url, '-o', outDir];
  if (opts.scenario) args.push('--scenario', opts.scenario);
  else args.push('--suite', opts.suite ?? 'active');
  if (opts.specVersion) args.push('--spec-version', opts.specVersion);

  const { output, exitCode, timedOut } = await runCli(args, timeoutMs, opts.env);

  const files = await findChecksFiles(outDir);
  let scenarios: ScenarioResult[] = [];
  for (const file of files.sort()) {
    const checks = JSON.parse(await readFile(file, 'utf8')) as ConformanceCheck[];
    scenarios.push(summarise(opts.scenario ?? scenarioFromDir(outDir, file), checks));
  }
  if (scenarios.length === 0) scenarios = parseSummary(output);
  if (!opts.keepResults) await rm(outDir, { recursive: true, force: true });

  const failures: string[] = [];
  for (const s of scenarios) {
    for (const c of s.checks) {
      if (c.status === 'FAILURE' || (opts.warningsAsFailures && c.status === 'WARNING')) {
        failures.push(`${s.scenario}: ${c.name}: ${c.errorMessage ?? c.description}`);
      }
    }
    if (s.checks.length === 0 && s.failed > 0) failures.push(`${s.scenario}: ${s.failed} failed check(s)`);
  }
  if (timedOut) failures.push(`conformance CLI timed out after ${timeoutMs}ms`);
  else if (scenarios.length === 0) failures.push(`conformance CLI produced no results (exit code ${exitCode})`);

  const passed = scenarios.reduce((n, s) => n + s.passed, 0);
  const warnings = scenarios.reduce((n, s) => n + s.warnings, 0);
  const failed =
    scenarios.reduce((n, s) => n + s.failed, 0) +
    (opts.warningsAsFailures ? warnings : 0) +
    (timedOut || scenarios.length === 0 ? 1 : 0);

  return {
    passed,
    failed,
    total: passed + failed,
    warnings,
    output,
    failures,
    scenarios,
    exitCode,
    timedOut,
    resultsDir: opts.keepResults ? outDir : undefined,
  };
}

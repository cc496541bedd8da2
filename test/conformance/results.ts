// Reading the conformance CLI's result folders (shared by both runners).
import { readdir } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { ConformanceCheck, ScenarioResult } from './run.js';

export async function findChecksFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile() && e.name === 'checks.json')
    .map((e) => join((e as unknown as { parentPath?: string; path: string }).parentPath ?? e.path, e.name));
}

/** Result dirs are "<outDir>/server-<scenario>-<ISO timestamp with :/. replaced by ->". */
export function scenarioFromDir(outDir: string, file: string): string {
  const rel = relative(outDir, dirname(file)).split(sep).join('/');
  return rel.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/, '');
}

export function summarise(scenario: string, checks: ConformanceCheck[]): ScenarioResult {
  const count = (s: string) => checks.filter((c) => c.status === s).length;
  return { scenario, passed: count('SUCCESS'), failed: count('FAILURE'), warnings: count('WARNING'), checks };
}

/** Fallback parser for the CLI's "=== SUMMARY ===" lines ("✓ name: 3 passed, 0 failed"). */

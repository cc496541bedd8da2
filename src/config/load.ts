// Reads a YAML config file, interpolates env vars, validates it, and returns frozen runtime config.
// Errors name the file, line, column and key so an operator can fix them without guessing.
import { readFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { LineCounter, parseDocument, isMap, isNode, isScalar } from 'yaml';
import type { z } from 'zod';
import { configSchema } from './schema.js';
import { interpolate } from './interpolate.js';
import { toRuntimeConfig, type RuntimeConfig } from './runtime.js';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid config ${file}:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadedConfig {
  config: RuntimeConfig;
  /** Human-readable warnings (e.g. a secret that fell back to its default). */
  warnings: string[];
}

type Path = readonly PropertyKey[];

export function loadConfigFile(file: string, env: Readonly<Record<string, string | undefined>>): LoadedConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read file: ${(err as Error).message}`]);
  }
  return parseConfigText(text, path, env);
}

export function parseConfigText(
  text: string,
  file: string,
  env: Readonly<Record<string, string | undefined>>,
): LoadedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const where = (path: Path): string => {
    // Point at the key itself when there is one (an unknown key's value is not where the typo is).
    const parent = path.length > 0 ? doc.getIn(path.slice(0, -1) as (string | number)[], true) : undefined;
    const pair = isMap(parent) ? parent.items.find((p) => isScalar(p.key) && p.key.value === path[path.length - 1]) : undefined;
    const node = isScalar(pair?.key) ? pair.key : doc.getIn(path as (string | number)[], true);
    const offset = isNode(node) && node.range ? node.range[0] : undefined;
    if (offset === undefined) return file;
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const { line, col } = lineCounter.linePos(e.pos[0]);
        return `${file}:${line}:${col} YAML syntax: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  const { value, defaulted, missing } = interpolate(raw, env);
  const problems = missing.map(
    (m) => `${where(m.path)} ${m.path.join('.')}: environment variable ${m.variable} is not set (use \${${m.variable}:-default})`,
  );
  const parsed = configSchema.safeParse(value);
  if (!parsed.success) problems.push(...formatIssues(parsed.error.issues, where));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(file, problems);
  const warnings = defaulted
    .filter((v) => /KEY|SECRET|TOKEN|PASSWORD/i.test(v))
    .map((v) => `${v} is not set: using the default from ${file}. Set it before exposing the gateway.`);
  return { config: toRuntimeConfig(parsed.data, dirname(file)), warnings };
}

function formatIssues(issues: z.core.$ZodIssue[], where: (p: Path) => string): string[] {
  return issues.map((issue) => {
    // For unknown keys, point at the offending key itself.
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const path = keys.length === 1 ? [...issue.path, keys[0] as string] : issue.path;
    const key = path.length > 0 ? path.map(String).join('.') : '(top level)';
    return `${where(path)} ${key}: ${issue.message}`;
  });
}

// YAML text → a value validated by a zod schema, with errors that name file:line:col and the key.
// Shared by the gateway config and the policy files.
import { LineCounter, parseDocument, isMap, isNode, isScalar } from 'yaml';
import type { z } from 'zod';
import { interpolate } from './interpolate.js';
import { suggestKey } from './suggest.js';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid config ${file}:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

type Path = readonly PropertyKey[];

export interface ParsedYaml<T> {
  value: T;
  /** Variables that were unset and fell back to their `${VAR:-default}`. */
  defaulted: string[];
  /** The default each of those took. */
  defaults: Record<string, string>;
  /** Each value a set variable put into the config, and where. */
  expanded: { path: (string | number)[]; value: string }[];
  /** `file:line:col` of a key path, for problems found after parsing (e.g. a CEL expression). */
  where: (path: Path) => string;
}

export function parseYaml<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  env: Readonly<Record<string, string | undefined>>,
  /** Chooses the schema from the raw value (e.g. agent vs group policy), for errors that make sense. */
  pick?: (raw: unknown) => z.ZodType,
): ParsedYaml<z.output<S>> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const where = (path: Path): string => {
    // Point at the key itself when there is one (an unknown key's value is not where the typo is).
    const parent = path.length > 0 ? doc.getIn(path.slice(0, -1) as (string | number)[], true) : undefined;
    const pair = isMap(parent)
      ? parent.items.find((p) => isScalar(p.key) && p.key.value === path[path.length - 1])
      : undefined;
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
  const { value, defaulted, defaults, missing, expanded } = interpolate(raw, env);
  const problems = missing.map(
    (m) =>
      `${where(m.path)} ${m.path.join('.')}: environment variable ${m.variable} is not set (use \${${m.variable}:-default})`,
  );
  const chosen = pick?.(value) ?? schema;
  const parsed = chosen.safeParse(value);
  // A value an unset variable left empty fails its own checks too (too short, not a number): the
  // variable is the one problem to fix there, so only it is said.
  const unset = new Set(missing.map((m) => m.path.join('.')));
  if (!parsed.success)
    problems.push(
      ...formatIssues(
        parsed.error.issues.filter((i) => !unset.has(i.path.join('.'))),
        where,
        chosen,
      ),
    );
  if (problems.length > 0 || !parsed.success) throw new ConfigError(file, problems);
  return { value: parsed.data as z.output<S>, defaulted, defaults, expanded, where };
}

function formatIssues(issues: z.core.$ZodIssue[], where: (p: Path) => string, schema: z.ZodType): string[] {
  return issues.map((issue) => {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const path = keys.length === 1 ? [...issue.path, keys[0] as string] : issue.path;
    const key = path.length > 0 ? path.map(String).join('.') : '(top level)';
    const hint = keys.length === 1 ? suggestKey(schema, issue.path, keys[0] as string) : undefined;
    return `${where(path)} ${key}: ${issue.message}${hint ? ` (did you mean ${hint}?)` : ''}`;
  });
}

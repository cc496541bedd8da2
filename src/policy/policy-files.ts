// Reading a policies directory: each YAML file parsed and checked on its own (schema, CEL constraints, approval rules), problems at their file:line:col; separate so policy-set.ts keeps to compiling and answering lookups.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, parseYaml } from '../config/yaml.js';
import {
  agentPolicySchema,
  groupPolicySchema,
  policyFileSchema,
  type AgentPolicyFile,
  type GroupPolicyFile,
} from './schema.js';
import { compileCel } from './access.js';
import { approvalRuleProblems } from '../approvals/rules.js';

/** What a policies directory holds, read but not yet compiled. */
export interface PolicyFiles {
  agents: { file: string; policy: AgentPolicyFile }[];
  groups: Map<string, { file: string; policy: GroupPolicyFile }>;
  /** Every problem found in any file; a set is built only when there are none. */
  problems: string[];
  /** Every policy file of the directory, in order. */
  files: string[];
}

export function readPolicyFiles(dir: string, env: Readonly<Record<string, string | undefined>>): PolicyFiles {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => /\.ya?ml$/.test(n))
      .sort();
  } catch (err) {
    throw new ConfigError(dir, [`policies.dir: cannot read the policies folder: ${(err as Error).message}`]);
  }
  const problems: string[] = [];
  const agents: { file: string; policy: AgentPolicyFile }[] = [];
  const groups = new Map<string, { file: string; policy: GroupPolicyFile }>();
  for (const name of names) {
    const file = join(dir, name);
    try {
      const { value, where } = parseYaml(readFileSync(file, 'utf8'), file, policyFileSchema, env, (raw) =>
        raw && typeof raw === 'object' && 'group' in raw ? groupPolicySchema : agentPolicySchema,
      );
      // Checked here, where positions are known: file:line:col, once per file (groups are shared).
      value.constraints.forEach((c, i) => {
        try {
          compileCel(c.when);
        } catch (err) {
          problems.push(
            `${where(['constraints', i, 'when'])} constraints.${i}.when: invalid CEL expression ${JSON.stringify(c.when)} (constraint for ${c.tool}): ${(err as Error).message.split('\n')[0]}`,
          );
        }
      });
      problems.push(...approvalRuleProblems(value.approvals, where));
      if ('agent' in value) agents.push({ file, policy: value });
      else groups.set(value.group, { file, policy: value });
    } catch (err) {
      if (err instanceof ConfigError) problems.push(...err.problems);
      else problems.push(`${file}: ${(err as Error).message}`);
    }
  }
  return { agents, groups, problems, files: [...names.map((n) => join(dir, n))] };
}

// Compiling agent policy files into what a policy set looks up: each agent's access, limits and approval rules (its own file's, then its groups'), and the identities that map to it, each claimed by one agent only; separate so policy-set.ts keeps to answering lookups.
import type { AgentPolicyFile, GroupPolicyFile } from './schema.js';
import { AgentAccess, type ConstraintRule } from './access.js';
import { compileAgentLimits, type AgentLimits } from '../limits/plan.js';
import { ApprovalRules } from '../approvals/rules.js';

export interface AgentEntry {
  file: string;
  policy: AgentPolicyFile;
  access: AgentAccess;
  limits: AgentLimits | undefined;
  approvals: ApprovalRules;
}

export interface CompiledAgents {
  /** Filled only while there are no problems. */
  byId: Map<string, AgentEntry>;
  keyHashes: Map<string, string>;
  subjects: Map<string, string>;
  claimRules: { claims: Record<string, unknown>; agent: string }[];
  oauthSubjects: Map<string, string>;
}

/** Adds what it finds wrong (an unknown group, an agent or identity defined twice) to `problems`. */
export function compileAgents(
  agents: { file: string; policy: AgentPolicyFile }[],
  groups: Map<string, { file: string; policy: GroupPolicyFile }>,
  problems: string[],
): CompiledAgents {
  const byId = new Map<string, AgentEntry>();
  /** The file that defines each agent (byId is only filled while there are no problems). */
  const fileOf = new Map<string, string>();
  const keyHashes = new Map<string, string>();
  const subjects = new Map<string, string>();
  const claimRules: { claims: Record<string, unknown>; agent: string }[] = [];
  const oauthSubjects = new Map<string, string>();
  const claim = (map: Map<string, string>, key: string, agent: string, file: string, what: string): void => {
    const other = map.get(key);
    if (other !== undefined && other !== agent) problems.push(`${file}: ${what} already belongs to agent ${other}`);
    map.set(key, agent);
  };
  for (const { file, policy } of agents) {
    const first = fileOf.get(policy.agent);
    if (first !== undefined)
      problems.push(`${file}: agent ${policy.agent} is already defined in ${first}; one file per agent`);
    else fileOf.set(policy.agent, file);
    const parts = [{ file, p: policy }];
    for (const g of policy.groups) {
      const group = groups.get(g);
      if (!group) problems.push(`${file}: unknown group ${g}`);
      else parts.push({ file: group.file, p: group.policy as unknown as AgentPolicyFile });
    }
    const union = (kind: 'tools' | 'prompts' | 'resources' | 'models') => ({
      allow: parts.flatMap((x) => x.p[kind].allow),
      deny: parts.flatMap((x) => x.p[kind].deny),
    });
    const constraints: ConstraintRule[] = parts.flatMap((x) =>
      x.p.constraints.map((c) => ({ ...c, message: c.message, source: x.file })),
    );
    for (const h of policy.identities.api_key_hashes) claim(keyHashes, h, policy.agent, file, 'api key hash');
    for (const s of policy.identities.jwt_subjects) claim(subjects, s, policy.agent, file, `jwt subject ${s}`);
    for (const s of policy.identities.oauth_subjects) claim(oauthSubjects, s, policy.agent, file, `oauth subject ${s}`);
    if (policy.identities.jwt_claims) claimRules.push({ claims: policy.identities.jwt_claims, agent: policy.agent });
    if (problems.length > 0) continue;
    const context = { agent: { id: policy.agent, groups: policy.groups } };
    const access = new AgentAccess(
      policy.agent,
      { tool: union('tools'), prompt: union('prompts'), resource: union('resources'), model: union('models') },
      constraints,
      context,
    );
    const limitsInput =
      policy.limits ??
      parts
        .slice(1)
        .map((x) => x.p.limits)
        .find((l) => l !== undefined);
    const approvals = new ApprovalRules(
      parts.flatMap((x) => x.p.approvals.map((r, index) => ({ ...r, index, source: x.file }))),
    );
    byId.set(policy.agent, {
      file,
      policy,
      access,
      limits: limitsInput && compileAgentLimits(limitsInput),
      approvals,
    });
  }
  return { byId, keyHashes, subjects, claimRules, oauthSubjects };
}

// All policy files of a directory, validated together and compiled into lookups. A set is
// immutable: a reload builds a new one and swaps it in only if every file is valid.
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
import { AgentAccess, allowAllAccess, compileCel, type AccessKind, type ConstraintRule } from './access.js';
import type { AgentIdentity } from '../auth/identity.js';
import { compileAgentLimits, type AgentLimits } from '../limits/plan.js';
import { ApprovalRules, approvalRuleProblems } from '../approvals/rules.js';

interface AgentEntry {
  file: string;
  policy: AgentPolicyFile;
  access: AgentAccess;
  limits: AgentLimits | undefined;
  approvals: ApprovalRules;
}

export class PolicySet {
  private readonly accessCache = new Map<string, AgentAccess>();
  /** Group name → its compiled limits, for agents no file names (users with groups from their login). */
  private readonly groupLimits = new Map<string, AgentLimits>();
  /** Login groups (joined) → their approval rules, made once per combination. */
  private readonly groupApprovals = new Map<string, { rules: ApprovalRules; groups: readonly string[] } | undefined>();

  private constructor(
    /** undefined: no policies configured, every agent may do everything. */
    private readonly agents: ReadonlyMap<string, AgentEntry> | undefined,
    private readonly keyHashes: ReadonlyMap<string, string>,
    private readonly subjects: ReadonlyMap<string, string>,
    private readonly claimRules: readonly { claims: Record<string, unknown>; agent: string }[],
    readonly files: readonly string[],
    private readonly oauthSubjects: ReadonlyMap<string, string> = new Map(),
    private readonly groups: ReadonlyMap<string, GroupPolicyFile> = new Map(),
    /** Group name → its policy file (names a group's approval rules). */
    private readonly groupFiles: ReadonlyMap<string, string> = new Map(),
  ) {
    // Compiled once per set: the limits step caches request plans by the limits object's identity.
    for (const [name, g] of groups) if (g.limits) this.groupLimits.set(name, compileAgentLimits(g.limits));
  }

  static allowAll(): PolicySet {
    return new PolicySet(undefined, new Map(), new Map(), [], []);
  }

  /**
   * The agent a user who logged in through Tollgate's authorization server acts as: the agent
   * whose `identities.oauth_subjects` lists them, else `<prefix><sub>` (whose access is the union of
   * the group policies their groups name). `client` undefined: the agent's `oauth_clients` refuse it.
   */
  /**
   * Whether the id is one users of the OAuth front door act as: an agent listing oauth subjects, or
   * any id in the front door's namespace (`<prefix><sub>`; also one no user can reach because its
   * `<sub>` is listed for another agent: whatever else named it so shares that user's namespace).
   */
  isOAuthAgent(agent: string, prefix: string): boolean {
    if (agent.startsWith(prefix)) return true;
    for (const a of this.oauthSubjects.values()) if (a === agent) return true;
    return false;
  }

  agentForOAuth(sub: string, client: string, prefix: string): { agent: string; clientAllowed: boolean } {
    const agent = this.oauthSubjects.get(sub);
    if (agent === undefined) return { agent: `${prefix}${sub}`, clientAllowed: true };
    const clients = this.agents?.get(agent)?.policy.identities.oauth_clients ?? [];
    return { agent, clientAllowed: clients.length === 0 || clients.includes(client) };
  }

  get enforcing(): boolean {
    return this.agents !== undefined;
  }

  /** How many API key hashes the policy files list (what `serve` and `check` say agents connect with). */
  get apiKeyHashCount(): number {
    return this.keyHashes.size;
  }

  /** The agent an API key hash (`sha256:<hex>`) belongs to. */
  agentForKeyHash(hash: string): string | undefined {
    return this.keyHashes.get(hash);
  }

  /** Maps a verified JWT identity to an agent: listed subject, then claim match, else the subject. */
  agentForJwt(subject: string, claims: Readonly<Record<string, unknown>>): string {
    const bySubject = this.subjects.get(subject);
    if (bySubject) return bySubject;
    for (const r of this.claimRules) if (Object.entries(r.claims).every(([k, v]) => claims[k] === v)) return r.agent;
    return subject;
  }

  access(identity: Pick<AgentIdentity, 'id' | 'groups'>): AgentAccess {
    if (!this.agents) {
      let a = this.accessCache.get(identity.id);
      if (!a) this.accessCache.set(identity.id, (a = allowAllAccess(identity.id)));
      return a;
    }
    const entry = this.agents.get(identity.id);
    if (entry) return entry.access;
    if (identity.groups?.length) return this.groupAccess(identity.id, identity.groups);
    let none = this.accessCache.get(identity.id);
    if (!none) {
      // No policy names this agent: it may authenticate but sees and calls nothing.
      none = new AgentAccess(
        identity.id,
        {
          tool: { allow: [], deny: [] },
          prompt: { allow: [], deny: [] },
          resource: { allow: [], deny: [] },
          model: { allow: [], deny: [] },
        },
        [],
        {},
      );
      this.accessCache.set(identity.id, none);
    }
    return none;
  }

  /** An agent no file names (an OAuth user) whose groups come from login: the union of those groups' policies. */
  private groupAccess(id: string, names: readonly string[]): AgentAccess {
    const key = `${id}\u0000${names.join('\u0000')}`;
    let a = this.accessCache.get(key);
    if (a) return a;
    const parts = names.flatMap((g) => {
      const p = this.groups.get(g);
      return p ? [p] : [];
    });
    const union = (kind: 'tools' | 'prompts' | 'resources' | 'models') => ({
      allow: parts.flatMap((p) => p[kind].allow),
      deny: parts.flatMap((p) => p[kind].deny),
    });
    a = new AgentAccess(
      id,
      { tool: union('tools'), prompt: union('prompts'), resource: union('resources'), model: union('models') },
      parts.flatMap((p) => p.constraints.map((c) => ({ ...c, message: c.message, source: `group ${p.group}` }))),
      { agent: { id, groups: [...names] } },
    );
    if (this.accessCache.size > 10_000) this.accessCache.clear();
    this.accessCache.set(key, a);
    return a;
  }

  /**
   * The agent's limits: its own, else its first group's that has some. An agent no file names gets
   * its access from `groups` (its login's), and so its limits: the first of those groups with some.
   */
  limitsFor(agentId: string, groups?: readonly string[]): AgentLimits | undefined {
    const entry = this.agents?.get(agentId);
    if (entry || !this.agents || !groups) return entry?.limits;
    for (const g of groups) {
      const l = this.groupLimits.get(g);
      if (l) return l;
    }
    return undefined;
  }

  /**
   * The agent's approval rules (its own first, then its groups'); undefined: none apply. An agent
   * no file names (a signed-in user) gets the rules of `groups`, its login's, in their order.
   */
  approvalsFor(
    agentId: string,
    groups?: readonly string[],
  ): { rules: ApprovalRules; groups: readonly string[] } | undefined {
    const e = this.agents?.get(agentId);
    if (e || !this.agents || !groups?.length) {
      return e && e.approvals.size > 0 ? { rules: e.approvals, groups: e.policy.groups } : undefined;
    }
    const key = groups.join('\u0000');
    if (this.groupApprovals.has(key)) return this.groupApprovals.get(key);
    const rules = new ApprovalRules(
      groups.flatMap((g) =>
        (this.groups.get(g)?.approvals ?? []).map((r, index) => ({
          ...r,
          index,
          source: this.groupFiles.get(g) ?? `group ${g}`,
        })),
      ),
    );
    const found = rules.size > 0 ? { rules, groups: [...groups] } : undefined;
    if (this.groupApprovals.size > 10_000) this.groupApprovals.clear();
    this.groupApprovals.set(key, found);
    return found;
  }

  /** The groups an agent's policy file names (per-agent upstream secrets by group). */
  groupsOf(agentId: string): readonly string[] {
    return this.agents?.get(agentId)?.policy.groups ?? [];
  }

  /** Agents the policies name (for the admin page). */
  agentIds(): string[] {
    return [...(this.agents?.keys() ?? [])];
  }

  /** Every pattern in every file, for `tollgate check` to compare with the configured servers. */
  patterns(): { file: string; kind: AccessKind; pattern: string }[] {
    const out: { file: string; kind: AccessKind; pattern: string }[] = [];
    for (const e of this.agents?.values() ?? []) {
      for (const [kind, key] of [
        ['tool', 'tools'],
        ['prompt', 'prompts'],
        ['resource', 'resources'],
        ['model', 'models'],
      ] as const) {
        for (const pattern of [...e.policy[key].allow, ...e.policy[key].deny])
          out.push({ file: e.file, kind, pattern });
      }
    }
    return out;
  }

  static load(dir: string, env: Readonly<Record<string, string | undefined>> = {}): PolicySet {
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
    return PolicySet.build(agents, groups, problems, [...names.map((n) => join(dir, n))]);
  }

  private static build(
    agents: { file: string; policy: AgentPolicyFile }[],
    groups: Map<string, { file: string; policy: GroupPolicyFile }>,
    problems: string[],
    files: string[],
  ): PolicySet {
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
      for (const s of policy.identities.oauth_subjects)
        claim(oauthSubjects, s, policy.agent, file, `oauth subject ${s}`);
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
    if (problems.length > 0) throw new ConfigError('policies', problems);
    const groupPolicies = new Map([...groups].map(([name, g]) => [name, g.policy]));
    const groupFiles = new Map([...groups].map(([name, g]) => [name, g.file]));
    return new PolicySet(byId, keyHashes, subjects, claimRules, files, oauthSubjects, groupPolicies, groupFiles);
  }
}

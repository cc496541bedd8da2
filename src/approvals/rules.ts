// An agent's approval rules, compiled: the first rule whose tool glob matches and whose `when`
// holds decides how the call is approved. Rules come from the agent's file, then its groups'.
import { compileGlob, type Matcher } from '../policy/glob.js';
import { compileCel } from '../policy/access.js';
import { toMs } from '../config/runtime-units.js';
import type { ApprovalRuleInput } from './schema.js';

export interface ApprovalRule {
  tool: string;
  when: string | undefined;
  ask: 'user' | 'operators';
  timeoutMs: number;
  approvers: readonly string[];
  message: string | undefined;
  fallback: 'deny' | 'operators';
  /** `approvals[i] in <file>`: names the rule in the audit and on the admin page. */
  name: string;
}

interface Compiled {
  rule: ApprovalRule;
  matches: Matcher;
  evaluate: ((ctx: Record<string, unknown>) => unknown) | undefined;
}

/** What `when` sees besides `args`: the agent and, for OAuth/JWT callers, the user. */
export interface ApprovalContext {
  agent: { id: string; groups: readonly string[] };
  user: Record<string, unknown>;
}

export class ApprovalRules {
  private readonly compiled: Compiled[];

  constructor(rules: readonly (ApprovalRuleInput & { source: string; index: number })[]) {
    this.compiled = rules.map((r) => ({
      rule: {
        tool: r.tool,
        when: r.when,
        ask: r.ask,
        timeoutMs: toMs(r.timeout),
        approvers: r.approvers,
        message: r.message,
        fallback: r.fallback,
        name: `approvals[${r.index}] in ${r.source}`,
      },
      matches: compileGlob(r.tool),
      evaluate: r.when === undefined ? undefined : compileCel(r.when),
    }));
  }

  get size(): number {
    return this.compiled.length;
  }

  /**
   * The rule that applies to this call, if any. A `when` that fails to evaluate (a missing or
   * mistyped argument) counts as true: asking a person is the safe side of an unclear rule.
   */
  match(tool: string, args: unknown, ctx: ApprovalContext): ApprovalRule | undefined {
    for (const c of this.compiled) {
      if (!c.matches(tool)) continue;
      if (!c.evaluate) return c.rule;
      let hit: unknown;
      try {
        hit = c.evaluate({ ...ctx, args: args ?? {} });
      } catch {
        hit = true;
      }
      if (hit !== false) return c.rule;
    }
    return undefined;
  }
}

/** Problems with the rules of one policy file, for `tollgate check` and reloads (CEL is parsed here). */
export function approvalRuleProblems(
  rules: readonly ApprovalRuleInput[],
  where: (path: (string | number)[]) => string,
): string[] {
  const problems: string[] = [];
  rules.forEach((r, i) => {
    if (r.when === undefined) return;
    try {
      compileCel(r.when);
    } catch (err) {
      problems.push(
        `${where(['approvals', i, 'when'])} approvals.${i}.when: invalid CEL expression ${JSON.stringify(r.when)} (approval for ${r.tool}): ${(err as Error).message.split('\n')[0]}`,
      );
    }
  });
  return problems;
}

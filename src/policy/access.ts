// One agent's effective access, compiled: the single decision function behind both list filtering
// and call checks, so what an agent sees and what it may call cannot drift apart.
import { Environment } from '@marcbachmann/cel-js';
import { compileGlob, compileGlobs, type Matcher } from './glob.js';
import { normalizePath } from './normalize.js';

export type AccessKind = 'tool' | 'prompt' | 'resource' | 'model';

export interface Decision {
  readonly allowed: boolean;
  /** The same as a call's decision (the audit's word for it). */
  readonly decision: 'allowed' | 'denied';
  /** The rule that decided, e.g. `deny github__delete_*` or `no allow rule matched`. */
  readonly rule: string;
  /** A sentence for the agent: names the reason, no internal detail. */
  readonly reason: string;
}

export interface AccessRules {
  allow: readonly string[];
  deny: readonly string[];
}

export interface ConstraintRule {
  tool: string;
  when: string;
  message: string | undefined;
  /** Where it came from (file), for the audit. */
  source: string;
}

interface CompiledConstraint {
  matches: Matcher;
  rule: ConstraintRule;
  evaluate: (ctx: Record<string, unknown>) => unknown;
}

/**
 * The CEL environment of constraints: variables are dynamic (`args` is whatever the agent sent), plus
 * `normalizePath(string)`: a string prefix rule on a raw path admits `/srv/docs/../../etc/passwd`,
 * on `normalizePath(args.path)` it does not. A path it refuses (backslash, percent-escape, NUL,
 * look-alike dots) makes the expression fail, and a failing constraint denies.
 */
const celEnvironment = new Environment({ unlistedVariablesAreDyn: true }).registerFunction(
  'normalizePath(string): string',
  (path: string) => {
    const n = normalizePath(path);
    if (!n.ok) throw new Error(`normalizePath: ${n.reason}`);
    return n.value;
  },
);

/** Compiles a CEL expression, throwing a readable error for `tollgate check` and reloads. */
export function compileCel(expr: string): (ctx: Record<string, unknown>) => unknown {
  const fn = celEnvironment.parse(expr);
  return (ctx) => fn(ctx);
}

export class AgentAccess {
  private readonly lists: Record<
    AccessKind,
    { allow: (s: string) => string | undefined; deny: (s: string) => string | undefined }
  >;
  private readonly constraints: CompiledConstraint[];
  /** What constraints see: the agent's context and the call's `args`. */
  private readonly variables: Record<string, unknown>;

  constructor(
    readonly agentId: string,
    rules: Record<AccessKind, AccessRules>,
    constraints: readonly ConstraintRule[],
    context: Record<string, unknown>,
  ) {
    const compile = (r: AccessRules) => ({ allow: compileGlobs(r.allow), deny: compileGlobs(r.deny) });
    this.lists = {
      tool: compile(rules.tool),
      prompt: compile(rules.prompt),
      resource: compile(rules.resource),
      model: compile(rules.model),
    };
    this.variables = { ...context, args: undefined };
    this.constraints = constraints.map((rule) => ({
      rule,
      matches: compileGlob(rule.tool),
      evaluate: compileCel(rule.when),
    }));
  }

  /**
   * The allowed answer of each allow rule, made once: an allowed name's answer depends only on the
   * rule that matched (every call asks; the answer held no more than that rule's text). Bounded by
   * the policy's rules, unlike a cache by name (agents choose names).
   */
  private readonly allowedBy = new Map<string, Decision>();

  /** Allow/deny by name alone: what list calls show. The answer may be shared: never change it. */
  byName(kind: AccessKind, name: string): Decision {
    const lists = this.lists[kind];
    const denied = lists.deny(name);
    if (denied !== undefined)
      return refused(`deny ${denied}`, `${kind} ${name} is not allowed for agent ${this.agentId}`);
    const allowed = lists.allow(name);
    if (allowed === undefined)
      return refused('no allow rule matched', `${kind} ${name} is not allowed for agent ${this.agentId}`);
    let d = this.allowedBy.get(allowed);
    if (d === undefined) {
      d = Object.freeze({ allowed: true, decision: 'allowed', rule: `allow ${allowed}`, reason: 'allowed' });
      this.allowedBy.set(allowed, d);
    }
    return d;
  }

  visible(kind: AccessKind, name: string): boolean {
    return this.byName(kind, name).allowed;
  }

  /** The full check for a call: the name, then every argument constraint that applies. */
  decide(kind: AccessKind, name: string, args?: unknown): Decision {
    const byName = this.byName(kind, name);
    if (!byName.allowed || kind !== 'tool') return byName;
    for (const c of this.constraints) {
      if (!c.matches(name)) continue;
      let ok: unknown;
      // One variables object per agent, its args set for this evaluation and cleared after: no copy
      // of the context per call. Evaluation is synchronous, so no other call sees these args.
      this.variables.args = args ?? {};
      try {
        ok = c.evaluate(this.variables);
      } catch {
        ok = false; // a missing or mistyped argument fails the constraint rather than bypassing it
      } finally {
        this.variables.args = undefined;
      }
      if (ok !== true)
        return refused(
          `constraint ${c.rule.when} (${c.rule.source})`,
          c.rule.message ?? `the arguments of ${name} do not satisfy the policy for agent ${this.agentId}`,
        );
    }
    return byName;
  }
}

function refused(rule: string, reason: string): Decision {
  return Object.freeze({ allowed: false, decision: 'denied', rule, reason });
}

/** Everything allowed: the gateway's behaviour when no policies are configured. */
export const allowAllAccess = (agentId: string): AgentAccess =>
  new AgentAccess(
    agentId,
    {
      tool: { allow: ['*'], deny: [] },
      prompt: { allow: ['*'], deny: [] },
      resource: { allow: ['*'], deny: [] },
      model: { allow: ['*'], deny: [] },
    },
    [],
    {},
  );

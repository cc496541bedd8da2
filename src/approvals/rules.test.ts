import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/tmp.js';
import { PolicySet } from '../policy/policy-set.js';
import { ConfigError } from '../config/yaml.js';
import { ApprovalRules } from './rules.js';
import { approvalRuleSchema, approvalsConfigSchema } from './schema.js';

const ctx = { agent: { id: 'a', groups: [] }, user: {} };
const rules = (...r: Record<string, unknown>[]) =>
  new ApprovalRules(r.map((x, index) => ({ ...approvalRuleSchema.parse(x), index, source: 'p.yaml' })));

const dir = tempDir('tollgate-approval-rules-');

describe('approval rules', () => {
  it('the first rule whose glob matches and whose when holds applies', () => {
    const r = rules(
      { tool: 'pay__*', when: 'args.amount > 100', ask: 'operators', timeout: '30m' },
      { tool: 'pay__*', ask: 'user' },
    );
    expect(r.match('pay__send', { amount: 500 }, ctx)).toMatchObject({ ask: 'operators', timeoutMs: 1_800_000 });
    expect(r.match('pay__send', { amount: 5 }, ctx)).toMatchObject({ ask: 'user', name: 'approvals[1] in p.yaml' });
    expect(r.match('github__delete', {}, ctx)).toBeUndefined();
  });

  it('a when that cannot be evaluated (missing argument) asks rather than lets the call through', () => {
    const r = rules({ tool: 'pay__*', when: 'args.amount > 100', ask: 'operators' });
    expect(r.match('pay__send', {}, ctx)).toBeDefined();
    expect(r.match('pay__send', { amount: 'lots' }, ctx)).toBeDefined();
  });

  it('when sees the agent and its groups', () => {
    const r = rules({ tool: '*', when: '"interns" in agent.groups', ask: 'user' });
    expect(r.match('x__y', {}, { agent: { id: 'a', groups: ['interns'] }, user: {} })).toBeDefined();
    expect(r.match('x__y', {}, ctx)).toBeUndefined();
  });

  it('refuses unknown keys, approvers that are not group:/user:, and bad CEL when policies load', () => {
    expect(approvalRuleSchema.safeParse({ tool: 'x', ask: 'user', approve: true }).success).toBe(false);
    expect(approvalRuleSchema.safeParse({ tool: 'x', ask: 'operators', approvers: ['finance'] }).success).toBe(false);
    expect(approvalRuleSchema.safeParse({ tool: 'x', ask: 'someone' }).success).toBe(false);
    writeFileSync(
      join(dir, 'a.yaml'),
      'agent: a\ntools: { allow: ["*"] }\napprovals:\n  - { tool: "x__*", when: "args.amount >", ask: operators }\n',
    );
    let err: unknown;
    try {
      PolicySet.load(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.join('\n')).toMatch(
      /a\.yaml:\d+:\d+ approvals\.0\.when: invalid CEL expression/,
    );
  });

  it('refuses waits longer than a timer can hold (they would end at once: every call timed out)', () => {
    const rule = (timeout: string | number) => approvalRuleSchema.safeParse({ tool: 'x', ask: 'operators', timeout });
    expect(rule('720h').success).toBe(false);
    expect(rule(2 ** 31).success).toBe(false);
    expect(rule('576h').success).toBe(true); // 24 days
    const section = (v: Record<string, unknown>) => approvalsConfigSchema.safeParse(v).success;
    expect(section({ keepalive: '600h' })).toBe(false); // else a progress notification every millisecond
    expect(section({ webhook: { url: 'https://hooks.example/x', timeout: '600h' } })).toBe(false);
    expect(section({ keepalive: '1h', webhook: { url: 'https://hooks.example/x', timeout: '1h' } })).toBe(true);
  });

  it("an agent's rules come first, then its groups'", () => {
    writeFileSync(
      join(dir, 'a.yaml'),
      'agent: a\ngroups: [g]\ntools: { allow: ["*"] }\napprovals:\n  - { tool: "x__one", ask: user }\n',
    );
    writeFileSync(join(dir, 'g.yaml'), 'group: g\napprovals:\n  - { tool: "x__*", ask: operators }\n');
    const set = PolicySet.load(dir);
    const found = set.approvalsFor('a');
    expect(found?.groups).toEqual(['g']);
    expect(found?.rules.match('x__one', {}, ctx)?.ask).toBe('user');
    expect(found?.rules.match('x__two', {}, ctx)?.name).toMatch(/approvals\[0\] in .*g\.yaml/);
    expect(set.approvalsFor('nobody')).toBeUndefined();
  });
});

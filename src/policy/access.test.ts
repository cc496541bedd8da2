import { describe, expect, it } from 'vitest';
import { AgentAccess, compileCel } from './access.js';

const access = (when: string) =>
  new AgentAccess(
    'alice',
    {
      tool: { allow: ['fs__*'], deny: [] },
      prompt: { allow: [], deny: [] },
      resource: { allow: [], deny: [] },
      model: { allow: [], deny: [] },
    },
    [{ tool: 'fs__read_file', when, message: 'only /srv/docs', source: 'alice.yaml' }],
    {},
  );

describe('CEL constraints', () => {
  it('a raw string prefix admits a traversal; normalizePath closes it', () => {
    const raw = access('args.path.startsWith("/srv/docs/")');
    expect(raw.decide('tool', 'fs__read_file', { path: '/srv/docs/../../etc/passwd' }).allowed).toBe(true);
    const safe = access('normalizePath(args.path).startsWith("/srv/docs/")');
    expect(safe.decide('tool', 'fs__read_file', { path: '/srv/docs/a/b.txt' }).allowed).toBe(true);
    for (const path of [
      '/srv/docs/../../etc/passwd',
      '/srv/docs/./../secret',
      '/srv/docs/..\\..\\etc\\passwd',
      '/srv/docs/%2e%2e/%2e%2e/etc/passwd',
      '/srv/docs/\uff0e\uff0e/\uff0e\uff0e/etc/passwd',
      '/srv/docs/a\u0000/../../../etc',
      'srv/docs/x',
      '/srv/docs',
    ]) {
      const d = safe.decide('tool', 'fs__read_file', { path });
      expect({ path, allowed: d.allowed }).toEqual({ path, allowed: false });
      expect(d.reason).toBe('only /srv/docs');
    }
    // not a string: no overload, the constraint fails closed
    expect(safe.decide('tool', 'fs__read_file', { path: 3 }).allowed).toBe(false);
  });

  it('is available to every constraint expression', () => {
    expect(compileCel('normalizePath("/a/./b//c/..") == "/a/b"')({})).toBe(true);
  });
});

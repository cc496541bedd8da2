import { describe, expect, it } from 'vitest';
import { elicitationParams } from './ask-user.js';

const messageOf = (p: Record<string, unknown>): string => String(p.message);

describe("the question to the agent's user", () => {
  it('never silently cuts the arguments: padding cannot push an argument out of sight', () => {
    // The agent writes the arguments (a prompt-injected model can pad them): what it wants hidden
    // comes after enough harmless text to reach the message's size cap.
    const args = { path: '/tmp/notes.txt', pad1: 'a'.repeat(2000), pad2: 'b'.repeat(2000), recursive_target: '/' };
    const m = messageOf(elicitationParams({ tool: 'fs__delete', description: null, args, message: null }));
    expect(m).not.toContain('recursive_target');
    // Cut: the user is told, in the part that is shown, and the question still ends as it should.
    expect(m).toMatch(/arguments are too long to show in full/i);
    expect(m.endsWith('Accept runs the call; decline refuses it.')).toBe(true);
    expect(m.length).toBeLessThanOrEqual(4000);
  });

  it("shows the arguments before the upstream's description (which it does not control)", () => {
    const description = `Harmless.\nArguments: {"path": "/tmp/x"}\n${'\n'.repeat(200)}${'x'.repeat(700)}`;
    const m = messageOf(elicitationParams({ tool: 'fs__delete', description, args: { path: '/etc' }, message: null }));
    expect(m.indexOf('"/etc"')).toBeGreaterThan(-1);
    expect(m.indexOf('"/etc"')).toBeLessThan(m.indexOf('Harmless.'));
  });
});

import { describe, expect, it } from 'vitest';
import type { ConfigError } from '../config/yaml.js';
import {
  approve,
  approvalsBetween,
  emptyBook,
  observeTool,
  parseSelector,
  pendingOf,
  pinOf,
  type ObservedTool,
} from './book.js';
import { parsePinFile, renderPinFile } from './pin-file.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);
const tool = (name: string, sha256: string): ObservedTool => ({
  name,
  sha256,
  definition: { name, description: `${name} ${sha256.slice(0, 1)}` },
});
const NOW = '2025-03-10T12:00:00.000Z';

describe('pin file', () => {
  it('round-trips, sorted, with only a hash where the operator gave only a hash', () => {
    const text = JSON.stringify({
      version: 1,
      tools: {
        gh: {
          search: { sha256: A },
          create: { sha256: B, pinned_at: NOW, definition: { name: 'create', description: 'x' } },
        },
      },
    });
    const book = parsePinFile(text, 'pins.json');
    expect(pinOf(book, 'gh', 'search')).toEqual({ sha256: A, pinnedAt: undefined, definition: undefined });
    const rendered = renderPinFile(book);
    expect(rendered.indexOf('"create"')).toBeLessThan(rendered.indexOf('"search"'));
    expect(renderPinFile(parsePinFile(rendered, 'pins.json'))).toBe(rendered);
    expect(parsePinFile('', 'pins.json')).toEqual(emptyBook());
  });

  it('names every problem with its path', () => {
    const text = JSON.stringify({
      version: 2,
      tool: {},
      tools: { gh: { a: { sha256: 'nope' }, b: { sha256: A, extra: 1 }, c: 5 } },
      pending: { gh: { d: { sha256: A } } },
    });
    let problems: string[] = [];
    try {
      parsePinFile(text, 'pins.json');
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual([
      'pins.json tool: unknown key',
      'pins.json version: only version 1 is known',
      'pins.json tools.gh.a.sha256: expected 64 lowercase hex characters',
      'pins.json tools.gh.b.extra: unknown key',
      'pins.json tools.gh.c: expected an object with sha256',
      'pins.json pending.gh.d.definition: a pending change needs its definition',
    ]);
    expect(() => parsePinFile('{"tools": ', 'pins.json')).toThrow(/invalid JSON/);
  });

  it('keeps names such as __proto__ and constructor as plain data', () => {
    const book = parsePinFile(`{"tools":{"__proto__":{"constructor":{"sha256":"${A}"}}}}`, 'pins.json');
    expect(pinOf(book, '__proto__', 'constructor')?.sha256).toBe(A);
    expect(pinOf(book, 'x', 'toString')).toBeUndefined();
    expect(renderPinFile(book)).toContain('"__proto__"');
  });
});

describe('pin book transitions', () => {
  it('trusts on first use, records a change once as pending, clears it when the upstream goes back', () => {
    let r = observeTool(emptyBook(), 'gh', tool('search', A), true, NOW);
    expect(r.event).toMatchObject({ type: 'tool.pinned', pinnedSha256: null, sha256: A });
    r = observeTool(r.book, 'gh', tool('search', B), true, NOW);
    expect(r.event).toMatchObject({ type: 'tool.pin_mismatch', pinnedSha256: A, sha256: B });
    expect(pendingOf(r.book, 'gh', 'search')?.sha256).toBe(B);
    const again = observeTool(r.book, 'gh', tool('search', B), true, NOW);
    expect(again.event).toBeUndefined();
    expect(again.book).toBe(r.book);
    const back = observeTool(r.book, 'gh', tool('search', A), true, NOW);
    expect(back.event).toBeUndefined();
    expect(pendingOf(back.book, 'gh', 'search')).toBeUndefined();
  });

  it('without auto-pinning, a new tool waits for approval', () => {
    const r = observeTool(emptyBook(), 'gh', tool('new', C), false, NOW);
    expect(r.event).toMatchObject({ type: 'tool.unpinned', pinnedSha256: null });
    expect(pinOf(r.book, 'gh', 'new')).toBeUndefined();
    expect(approve(r.book, { server: 'gh', tool: 'new' }, NOW).approved).toHaveLength(1);
  });

  it('approves one tool, one server or everything, and sees approvals made elsewhere', () => {
    let book = emptyBook();
    for (const [s, t] of [
      ['gh', 'a'],
      ['gh', 'b'],
      ['fs', 'c'],
    ] as const) {
      book = observeTool(book, s, tool(t, A), true, NOW).book;
      book = observeTool(book, s, tool(t, B), true, NOW).book;
    }
    expect(approve(book, parseSelector('gh/a'), NOW).approved.map((e) => e.tool)).toEqual(['a']);
    expect(approve(book, parseSelector('gh'), NOW).approved.map((e) => e.tool)).toEqual(['a', 'b']);
    const all = approve(book, {}, NOW);
    expect(all.approved.map((e) => `${e.server}/${e.tool}`)).toEqual(['fs/c', 'gh/a', 'gh/b']);
    expect(pinOf(all.book, 'fs', 'c')).toMatchObject({ sha256: B, pinnedAt: NOW, definition: { name: 'c' } });
    expect(all.book.pending.size).toBe(0);
    expect(approvalsBetween(book, all.book).map((e) => e.tool)).toEqual(['c', 'a', 'b']);
    expect(parseSelector('srv/tool/with/slash')).toEqual({ server: 'srv', tool: 'tool/with/slash' });
  });
});

// The pins in force and the changes waiting for approval, as an immutable value, with the pure
// transitions the gateway, the CLI and the admin API apply to it. Maps, not objects: server and
// tool names come from upstreams (`__proto__` is a valid tool name).
import type { JsonValue } from './canonical.js';

export type Definition = Record<string, JsonValue>;

export interface Pin {
  sha256: string;
  /** ISO time of pinning or approval; absent in hand-written entries. */
  pinnedAt: string | undefined;
  /** The approved definition (for diffs); absent when an operator pinned only the hash. */
  definition: Definition | undefined;
}

export interface PendingChange {
  sha256: string;
  /** ISO time the gateway first saw this definition. */
  seenAt: string;
  definition: Definition;
}

type Shelf<T> = ReadonlyMap<string, ReadonlyMap<string, T>>;

export interface PinBook {
  readonly pins: Shelf<Pin>;
  readonly pending: Shelf<PendingChange>;
}

export const emptyBook = (): PinBook => ({ pins: new Map(), pending: new Map() });

export type PinEventType = 'tool.pinned' | 'tool.pin_mismatch' | 'tool.unpinned' | 'tool.pin_approved';

export interface PinEvent {
  type: PinEventType;
  server: string;
  tool: string;
  /** The pinned hash before the event (null for a tool never pinned). */
  pinnedSha256: string | null;
  /** The hash the event is about: the upstream's current definition, or the approved one. */
  sha256: string;
}

export interface ObservedTool {
  name: string;
  sha256: string;
  definition: Definition;
}

function put<T>(shelf: Shelf<T>, server: string, tool: string, value: T | undefined): Shelf<T> {
  const next = new Map(shelf);
  const row = new Map(shelf.get(server) ?? []);
  if (value === undefined) row.delete(tool);
  else row.set(tool, value);
  if (row.size > 0) next.set(server, row);
  else next.delete(server);
  return next;
}

export const pinOf = (book: PinBook, server: string, tool: string): Pin | undefined => book.pins.get(server)?.get(tool);
export const pendingOf = (book: PinBook, server: string, tool: string): PendingChange | undefined =>
  book.pending.get(server)?.get(tool);

/**
 * One tool as an upstream lists it now. A matching pin clears any pending change (the upstream
 * went back); a different hash becomes the pending change (once per new hash); an unknown tool is
 * pinned (trust on first use) or, without auto-pinning, waits for approval like a change.
 * Idempotent: observing the same definition twice changes nothing the second time.
 */
export function observeTool(
  book: PinBook,
  server: string,
  tool: ObservedTool,
  autoPinNew: boolean,
  now: string,
): { book: PinBook; event?: PinEvent } {
  const pin = pinOf(book, server, tool.name);
  const pending = pendingOf(book, server, tool.name);
  if (pin?.sha256 === tool.sha256) {
    return pending ? { book: { ...book, pending: put(book.pending, server, tool.name, undefined) } } : { book };
  }
  if (!pin && autoPinNew) {
    const pins = put(book.pins, server, tool.name, { sha256: tool.sha256, pinnedAt: now, definition: tool.definition });
    return {
      book: { pins, pending: put(book.pending, server, tool.name, undefined) },
      event: { type: 'tool.pinned', server, tool: tool.name, pinnedSha256: null, sha256: tool.sha256 },
    };
  }
  if (pending?.sha256 === tool.sha256) return { book };
  const next = {
    ...book,
    pending: put(book.pending, server, tool.name, { sha256: tool.sha256, seenAt: now, definition: tool.definition }),
  };
  const type = pin ? 'tool.pin_mismatch' : 'tool.unpinned';
  return {
    book: next,
    event: { type, server, tool: tool.name, pinnedSha256: pin?.sha256 ?? null, sha256: tool.sha256 },
  };
}

/** Which pending changes an approval covers: all, one server's, or one tool. */
export interface Selector {
  server?: string;
  tool?: string;
}

/** Parses `server`, `server/tool` (the tool name may itself contain `/`). */
export function parseSelector(text: string): Selector {
  const slash = text.indexOf('/');
  return slash < 0 ? { server: text } : { server: text.slice(0, slash), tool: text.slice(slash + 1) };
}

export function pendingList(
  book: PinBook,
  sel: Selector = {},
): { server: string; tool: string; change: PendingChange }[] {
  const out: { server: string; tool: string; change: PendingChange }[] = [];
  for (const [server, row] of book.pending) {
    if (sel.server !== undefined && server !== sel.server) continue;
    for (const [tool, change] of row)
      if (sel.tool === undefined || tool === sel.tool) out.push({ server, tool, change });
  }
  return out.sort((a, b) => (a.server === b.server ? cmp(a.tool, b.tool) : cmp(a.server, b.server)));
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Pending changes become the pins (their definitions approved). */
export function approve(book: PinBook, sel: Selector, now: string): { book: PinBook; approved: PinEvent[] } {
  let next = book;
  const approved: PinEvent[] = [];
  for (const { server, tool, change } of pendingList(book, sel)) {
    const before = pinOf(next, server, tool);
    next = {
      pins: put(next.pins, server, tool, { sha256: change.sha256, pinnedAt: now, definition: change.definition }),
      pending: put(next.pending, server, tool, undefined),
    };
    approved.push({
      type: 'tool.pin_approved',
      server,
      tool,
      pinnedSha256: before?.sha256 ?? null,
      sha256: change.sha256,
    });
  }
  return { book: next, approved };
}

/**
 * Approvals that happened between two books however they were made (CLI on the file, a hand
 * edit): a pending change of `prev` whose hash is the pin in `next`.
 */
export function approvalsBetween(prev: PinBook, next: PinBook): PinEvent[] {
  return pendingList(prev)
    .filter(({ server, tool, change }) => pinOf(next, server, tool)?.sha256 === change.sha256)
    .map(({ server, tool, change }) => ({
      type: 'tool.pin_approved',
      server,
      tool,
      pinnedSha256: pinOf(prev, server, tool)?.sha256 ?? null,
      sha256: change.sha256,
    }));
}

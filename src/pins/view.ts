// What the admin API and page show of the pins: each pending change with its diff and any
// prompt-injection markers, and pinned definitions that carry markers.
import { pendingList, pinOf, type PinBook } from './book.js';
import { definitionDiff, type DiffLine } from './diff.js';
import { injectionMarkers, type InjectionMarker } from './markers.js';

export interface PendingView {
  server: string;
  tool: string;
  status: 'changed' | 'new';
  pinnedSha256: string | null;
  sha256: string;
  seenAt: string;
  diff: DiffLine[];
  markers: InjectionMarker[];
}

export interface PinsView {
  file: string;
  pinned: number;
  pending: PendingView[];
  /** Pinned (approved) definitions with injection markers: approved once, still worth a look. */
  flagged: { server: string; tool: string; markers: InjectionMarker[] }[];
}

export function pinsView(book: PinBook, file: string): PinsView {
  const pending = pendingList(book).map(({ server, tool, change }): PendingView => {
    const pin = pinOf(book, server, tool);
    return {
      server,
      tool,
      status: pin ? 'changed' : 'new',
      pinnedSha256: pin?.sha256 ?? null,
      sha256: change.sha256,
      seenAt: change.seenAt,
      diff: definitionDiff(pin?.definition, change.definition),
      markers: injectionMarkers(change.definition),
    };
  });
  let pinned = 0;
  const flagged: PinsView['flagged'] = [];
  for (const [server, row] of book.pins) {
    for (const [tool, pin] of row) {
      pinned++;
      const markers = pin.definition ? injectionMarkers(pin.definition) : [];
      if (markers.length > 0) flagged.push({ server, tool, markers });
    }
  }
  return { file, pinned, pending, flagged };
}

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { readRawLines } from './files.js';
import { tempDir } from '../../test/helpers/tmp.js';

describe('readRawLines', () => {
  it('reads lines as exact bytes with their offsets, a torn last line marked incomplete', async () => {
    const file = join(tempDir('raw-lines-'), 'a.jsonl');
    writeFileSync(file, 'ab\n\nxyz\ntorn');
    const lines = [];
    for await (const l of readRawLines(file)) lines.push({ ...l, bytes: l.bytes.toString() });
    expect(lines).toEqual([
      { bytes: 'ab', lineNo: 1, complete: true, end: 3 },
      { bytes: '', lineNo: 2, complete: true, end: 4 },
      { bytes: 'xyz', lineNo: 3, complete: true, end: 8 },
      { bytes: 'torn', lineNo: 4, complete: false, end: 12 },
    ]);
  });

  it('reads a huge line at the cost of its size (a crafted log cannot stall verify or the shipper)', async () => {
    // Whoever can write the log can write one line of hundreds of MiB: reading it must copy its bytes
    // about once, not once per chunk read (the size squared). Counted in bytes joined, not timed.
    const dir = tempDir('raw-lines-big-');
    const file = join(dir, 'big.jsonl');
    const size = 32 * 1024 * 1024;
    writeFileSync(file, `${'x'.repeat(size)}\nend\n`);
    let joined = 0;
    const concat = Buffer.concat;
    const spy = vi.spyOn(Buffer, 'concat').mockImplementation((list, total) => {
      const out = concat(list, total);
      joined += out.length;
      return out;
    });
    try {
      const sizes: number[] = [];
      for await (const l of readRawLines(file)) sizes.push(l.bytes.length);
      expect(sizes).toEqual([size, 3]);
    } finally {
      spy.mockRestore();
    }
    expect(joined).toBeLessThanOrEqual(2 * size);
  });
});

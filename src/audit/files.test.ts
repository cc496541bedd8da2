import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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

  it('reads a huge line in time linear in its size (a crafted log cannot stall verify or the shipper)', async () => {
    // Whoever can write the log can write one line of hundreds of MiB: reading it must cost its size,
    // not its size squared (8× the bytes, 64× the time before). Compared with itself on a smaller
    // line, so a slow or busy machine does not matter.
    const dir = tempDir('raw-lines-big-');
    const time = async (mib: number): Promise<number> => {
      const file = join(dir, `l${mib}.jsonl`);
      writeFileSync(file, `${'x'.repeat(mib * 1024 * 1024)}\nend\n`);
      const t = performance.now();
      const sizes: number[] = [];
      for await (const l of readRawLines(file)) sizes.push(l.bytes.length);
      expect(sizes).toEqual([mib * 1024 * 1024, 3]);
      return performance.now() - t;
    };
    await time(4); // warm up
    const small = Math.max(await time(12), await time(12));
    const big = Math.min(await time(96), await time(96));
    expect(big / small).toBeLessThan(24);
  }, 300_000);
});

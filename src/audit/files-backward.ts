// Reading a log backwards, newest line first: how a writer finds its last checkpoint on start without
// reading the whole log (checkpoints are at most `every_records` lines apart).
import { open } from 'node:fs/promises';
import { rotatedFilesOf } from './files.js';

/** Complete lines of a file, last first (a torn tail without `\n` is skipped). */
export async function* linesBackward(file: string, chunk = 64 * 1024): AsyncGenerator<Buffer> {
  const fh = await open(file, 'r').catch(() => undefined);
  if (!fh) return;
  try {
    // The last '\n': complete lines end there (what follows is a torn write, never acknowledged).
    let pos = (await fh.stat()).size;
    let end = -1;
    while (pos > 0 && end < 0) {
      const from = Math.max(0, pos - chunk);
      const buf = Buffer.alloc(pos - from);
      await fh.read(buf, 0, buf.length, from);
      const i = buf.lastIndexOf(10);
      if (i >= 0) end = from + i;
      pos = from;
    }
    if (end < 0) return;
    pos = end;
    let carry = Buffer.alloc(0); // the end of a line whose start is in an earlier chunk
    while (pos > 0) {
      const from = Math.max(0, pos - chunk);
      const buf = Buffer.alloc(pos - from);
      await fh.read(buf, 0, buf.length, from);
      pos = from;
      const data = carry.length ? Buffer.concat([buf, carry]) : buf;
      let e = data.length;
      while (e > 0) {
        const nl = data.lastIndexOf(10, e - 1);
        if (nl < 0) break;
        yield data.subarray(nl + 1, e);
        e = nl;
      }
      carry = Buffer.from(data.subarray(0, e));
    }
    yield carry; // the first line
  } finally {
    await fh.close();
  }
}

/** Lines of a rotated log set, newest first: the active file, then rotated files by descending seq. */
export async function* logLinesBackward(activePath: string): AsyncGenerator<Buffer> {
  yield* linesBackward(activePath);
  const rotated = await rotatedFilesOf(activePath);
  for (let i = rotated.length - 1; i >= 0; i--) yield* linesBackward(rotated[i]!.path);
}

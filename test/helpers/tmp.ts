// Temporary folders a test makes: tempDir() creates one and remembers it; test/setup/each-file.ts removes
// them all after the test file (afterAll), and on exit if the worker dies first. Use it instead of
// mkdtempSync(join(tmpdir(), …)) so no run leaves folders behind; never use fixed /tmp paths.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made = new Set<string>();

/** A fresh empty folder under the run's temporary folder, removed after the test file. */
export function tempDir(prefix = 'tollgate-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.add(dir);
  return dir;
}

/** Removes every folder tempDir() made so far (best effort: a folder a child still writes to may resist). */
export function removeTempDirs(): void {
  for (const dir of made) {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    made.delete(dir);
  }
}

process.once('exit', removeTempDirs);

// The OAuth file store's file on disk (real files in a temporary folder): what it holds (refresh
// tokens, client secrets, signing keys) stays readable by its owner only, and is never written
// through a name someone else could have prepared.
import { chmodSync, lstatSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it, vi } from 'vitest';
import { MemoryOAuthStore } from './store.js';
import { tempDir } from '../../test/helpers/tmp.js';

const modeOf = (path: string) => statSync(path).mode & 0o777;

it.each([
  ['a symlink to another file', (tmp: string, victim: string) => symlinkSync(victim, tmp)],
  [
    'a file others may read',
    (tmp: string) => {
      writeFileSync(tmp, 'planted');
      chmodSync(tmp, 0o644);
    },
  ],
])(
  '%s planted at a temporary name next to the store is neither written through nor renamed into place',
  async (_, plant) => {
    const dir = tempDir('tollgate-oauth-file-');
    const file = join(dir, 'oauth.json');
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'not yours');
    // What a writer through a fixed temporary name would have used.
    plant(`${file}.tmp`, victim);
    const planted = lstatSync(`${file}.tmp`);
    const store = new MemoryOAuthStore(file);
    await store.set('grant:g', { refresh: 'secret-refresh-token' });
    await store.set('client:c', { secret: 'client-secret' });
    expect(readFileSync(victim, 'utf8')).toBe('not yours');
    // The store itself, kept to its owner, not a link to the victim nor the planted file.
    expect(lstatSync(file).isFile()).toBe(true);
    expect(modeOf(file)).toBe(0o600);
    expect(lstatSync(`${file}.tmp`).ino).toBe(planted.ino);
    // Nothing left behind but the store and what was there.
    expect(readdirSync(dir).sort()).toEqual(['oauth.json', 'oauth.json.tmp', 'victim']);
    const again = new MemoryOAuthStore(file);
    expect(await again.get('grant:g')).toEqual({ refresh: 'secret-refresh-token' });
    expect(await again.get('client:c')).toEqual({ secret: 'client-secret' });
  },
);

it('a store file others may read is set to 0600 when loaded, with a warning, before anything is written', async () => {
  const file = join(tempDir('tollgate-oauth-file-'), 'oauth.json');
  writeFileSync(file, JSON.stringify({ 'grant:g': { value: { refresh: 'secret-refresh-token' } } }));
  chmodSync(file, 0o644);
  const log = { warn: vi.fn() };
  const store = new MemoryOAuthStore(file, Date.now, log);
  expect(modeOf(file)).toBe(0o600);
  expect(log.warn).toHaveBeenCalledWith(
    expect.objectContaining({ file, mode: '644' }),
    expect.stringContaining('0600'),
  );
  expect(await store.get('grant:g')).toEqual({ refresh: 'secret-refresh-token' });
  // A file kept to its owner is loaded without a word.
  const quiet = { warn: vi.fn() };
  new MemoryOAuthStore(file, Date.now, quiet);
  expect(quiet.warn).not.toHaveBeenCalled();
});

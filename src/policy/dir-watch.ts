// A debounced watch on a directory's files: the policy store and the pin store reload through it.
import { watch, type FSWatcher } from 'node:fs';

export interface DirWatch {
  close(): void;
}

/**
 * Calls `onChange` once things settle after any change to a file `wanted` accepts (editors and
 * atomic writers touch several names: temp file, rename). A filename the OS does not report counts.
 */
export function watchDir(
  dir: string,
  wanted: (name: string) => boolean,
  onChange: () => void,
  settleMs = 100,
): DirWatch {
  let debounce: NodeJS.Timeout | undefined;
  const watcher: FSWatcher = watch(dir, (_event, name) => {
    if (name !== null && !wanted(name.toString())) return;
    clearTimeout(debounce);
    debounce = setTimeout(onChange, settleMs);
    debounce.unref();
  });
  watcher.unref();
  return {
    close() {
      watcher.close();
      clearTimeout(debounce);
    },
  };
}

// Who waits for an approval's decision, by approval id: the held calls of this instance. Both stores
// (memory and Redis) keep them the same way; they differ only in how they learn of a decision.
import type { Approval } from './store.js';

export class DecisionWatchers {
  readonly #byId = new Map<string, Set<(a: Approval) => void>>();

  /** Calls `onDecided` with the decided approval; the returned function stops watching. */
  watch(id: string, onDecided: (a: Approval) => void): () => void {
    let set = this.#byId.get(id);
    if (!set) this.#byId.set(id, (set = new Set()));
    set.add(onDecided);
    return () => {
      set.delete(onDecided);
      if (set.size === 0) this.#byId.delete(id);
    };
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  /** The ids someone waits on. */
  ids(): string[] {
    return [...this.#byId.keys()];
  }

  notify(id: string, decided: Approval): void {
    for (const w of [...(this.#byId.get(id) ?? [])]) w(decided);
  }

  clear(): void {
    this.#byId.clear();
  }
}

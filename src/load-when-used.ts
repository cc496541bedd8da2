// Packages only some configurations need (ioredis, pg, the OpenTelemetry SDK) load the first time they
// are used, not at every start: each costs 50–100 ms of CPU to load (measured on the 2-core machine:
// ioredis ~100, the tracing SDK ~80, pg ~50, against ~800 ms for a whole `serve` start), and a
// gateway, CLI command or test child that does not use them should not pay for them.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A getter for a CommonJS package's exports, loaded by its first call. */
export function loadWhenUsed<T>(name: string): () => T {
  let exports: T | undefined;
  return () => {
    exports ??= require(name) as T;
    return exports;
  };
}

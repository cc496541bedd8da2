/** The bundle's source with the `globSync` import from fs replaced by a stub (see glob-sync-shim.mjs). */
export function rewriteGlobSyncImport(source: string): string;

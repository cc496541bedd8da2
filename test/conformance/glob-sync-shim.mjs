// The Node 20 shim of the conformance CLIs (see node20-loader.mjs): their bundles import `globSync`
// from fs, which exists from Node 22 only; this drops it from that import and defines it as a stub
// that throws if ever called (only the `tier-check` subcommand uses it). Shared by the loader hook
// and by cli-entry.ts, which writes a rewritten copy of a bundle once per test run.

// import{a as b,globSync as o,c as d}from"fs"   (also 'node:fs', with or without spaces)
const FS_IMPORT = /import\s*\{([^}]*)\}\s*from\s*(["'])(?:node:)?fs\2\s*;?/g;
const GLOB_SPEC = /(^|,)\s*globSync(?:\s+as\s+([A-Za-z_$][\w$]*))?\s*(?=,|$)/;

/** The bundle's source with the `globSync` import replaced by a stub. */
export function rewriteGlobSyncImport(source) {
  return source.replace(FS_IMPORT, (whole, specs, quote) => {
    const m = GLOB_SPEC.exec(specs);
    if (!m) return whole;
    const local = m[2] ?? 'globSync';
    const rest = specs
      .replace(GLOB_SPEC, (_s, lead) => lead)
      .replace(/^\s*,|,\s*$/g, '')
      .replace(/,\s*,/g, ',');
    const stub =
      `const ${local}=(...a)=>{throw new Error("fs.globSync is unavailable on Node "+process.version+` +
      `" (conformance tier-check needs Node >= 22)")};`;
    return `${rest.trim() ? `import{${rest}}from${quote}fs${quote};` : ''}${stub}`;
  });
}

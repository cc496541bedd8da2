// Glob patterns over namespaced names and URIs: `*` is any run of characters (URIs included, so
// `fs+file:///tmp/*` covers subfolders), `?` is one character. Everything else is literal.
export type Matcher = (s: string) => boolean;

export function compileGlob(pattern: string): Matcher {
  if (pattern === '*') return () => true;
  if (!/[*?]/.test(pattern)) return (s) => s === pattern;
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  const re = new RegExp(`^${source}$`, 's');
  return (s) => re.test(s);
}

/** Matches if any pattern matches; returns the first matching pattern (for the audit's "rule"). */
export function compileGlobs(patterns: readonly string[]): (s: string) => string | undefined {
  const compiled = patterns.map((p) => [p, compileGlob(p)] as const);
  return (s) => compiled.find(([, m]) => m(s))?.[0];
}

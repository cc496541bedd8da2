// A view is what one MCP endpoint shows: `/mcp` shows every upstream with namespaced names and
// URIs; `/mcp/<server>` shows one upstream exactly as it is.
import type { Upstream } from '../upstream/upstream.js';

export interface Target {
  upstream: Upstream;
  /** The name or URI as the upstream knows it. */
  native: string;
}

export interface View {
  readonly key: string;
  readonly upstreams: readonly Upstream[];
  readonly namespaced: boolean;
  name(upstream: Upstream, native: string): string;
  resolveName(agentName: string): Target | undefined;
  /** Whether this upstream's name, once namespaced, still names it (lists show no other's). */
  owns(upstream: Upstream, native: string): boolean;
  uri(upstream: Upstream, native: string): string;
  resolveUri(agentUri: string): Target | undefined;
}

export function singleView(upstream: Upstream): View {
  return {
    key: upstream.name,
    upstreams: [upstream],
    namespaced: false,
    name: (_u, n) => n,
    resolveName: (n) => ({ upstream, native: n }),
    owns: () => true,
    uri: (_u, n) => n,
    resolveUri: (n) => ({ upstream, native: n }),
  };
}

/**
 * Tool and prompt names become `<server><sep><name>`. Resource URIs become `<server>+<uri>`, which
 * is still a valid URI (server names are valid scheme characters), so two servers' `file:///x` stay
 * apart. With prefixing off, URIs are matched against the catalogs instead.
 */
export function aggregateView(upstreams: readonly Upstream[], separator: string, prefixUris: boolean): View {
  const byName = new Map(upstreams.map((u) => [u.name, u]));
  // Longest server name first, so `a-b__x` resolves to server `a-b` even with separator `-`.
  const prefixes = [...upstreams]
    .sort((a, b) => b.name.length - a.name.length)
    .map((u) => ({ u, p: u.name + separator }));
  // With a separator that server names may contain (`-`), server `a`'s `b-x` is `a-b-x`, which
  // names server `a-b`'s `x`: per upstream, the longer prefixes that would take its names.
  const longer = new Map(
    upstreams.map((u) => [
      u,
      prefixes
        .filter(({ p }) => p.length > u.name.length + separator.length && p.startsWith(u.name + separator))
        .map(({ p }) => p),
    ]),
  );
  return {
    key: '',
    upstreams,
    namespaced: true,
    name: (u, n) => u.name + separator + n,
    resolveName(agentName) {
      for (const { u, p } of prefixes)
        if (agentName.startsWith(p)) return { upstream: u, native: agentName.slice(p.length) };
      return undefined;
    },
    owns(u, native) {
      const name = u.name + separator + native;
      return !longer.get(u)?.some((p) => name.startsWith(p));
    },
    uri: (u, n) => (prefixUris ? `${u.name}+${n}` : n),
    resolveUri(agentUri) {
      if (prefixUris) {
        const plus = agentUri.indexOf('+');
        const u = plus > 0 ? byName.get(agentUri.slice(0, plus)) : undefined;
        return u ? { upstream: u, native: agentUri.slice(plus + 1) } : undefined;
      }
      for (const u of upstreams)
        if (u.catalog.resources.some((r) => r.uri === agentUri)) return { upstream: u, native: agentUri };
      const scheme = agentUri.slice(0, agentUri.indexOf(':') + 1);
      const withTemplate = upstreams.filter((u) =>
        u.catalog.resourceTemplates.some((t) => typeof t.uriTemplate === 'string' && t.uriTemplate.startsWith(scheme)),
      );
      const only = withTemplate.length === 1 ? withTemplate[0] : undefined;
      return only ? { upstream: only, native: agentUri } : undefined;
    },
  };
}

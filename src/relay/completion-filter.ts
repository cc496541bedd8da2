// completion/complete values pass the same decision as lists: a value that names a resource the
// agent may not read (itself a URI of a scheme the upstream serves, or the URI it makes when put
// into the template being completed) is removed, so completions do not reveal what lists hide.
import { isObject } from '../mcp/jsonrpc.js';
import { normalizeUri } from '../policy/normalize.js';
import type { AgentAccess } from '../policy/access.js';
import type { Catalog } from '../upstream/catalog.js';
import type { Upstream } from '../upstream/upstream.js';
import type { Target } from './view.js';

export interface CompletionScope {
  access: AgentAccess;
  /** The namespaced resource name policies use: `<server>+<uri>`. */
  canonicalResource(uri: string): string;
  catalog: Catalog;
  /** ref/resource: the URI template being completed (native), and the argument. */
  template: string | undefined;
  argument: string | undefined;
  /** Values of the template's other arguments the agent already chose (`context.arguments`). */
  known: Record<string, unknown>;
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\S*$/;
const EXPRESSION = /\{([+#./;?&]?)([^}]*)\}/g;

/** RFC 6570 expressions filled literally (no escaping: the agent may not escape either). */
function expand(template: string, argument: string, value: string, known: Record<string, unknown>): string {
  return template.replace(EXPRESSION, (_m, op: string, names: string) =>
    names
      .split(',')
      .map((raw) => {
        const name = raw.replace(/[*]$|:\d+$/, '');
        const v = name === argument ? value : typeof known[name] === 'string' ? known[name] : '';
        return op === '+' || op === '' ? v : op === '?' || op === '&' || op === ';' ? `${op}${name}=${v}` : op + v;
      })
      .join(op === '' || op === '+' ? ',' : ''),
  );
}

function schemesOf(catalog: Catalog): Set<string> {
  const out = new Set<string>();
  for (const e of [...catalog.resources, ...catalog.resourceTemplates]) {
    const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(String(e.uri ?? e.uriTemplate ?? ''));
    if (m) out.add((m[1] as string).toLowerCase());
  }
  return out;
}

export function filterCompletion(result: Record<string, unknown>, s: CompletionScope): Record<string, unknown> {
  const c = result.completion;
  if (!isObject(c) || !Array.isArray(c.values)) return result;
  const readable = (uri: string): boolean => {
    const n = normalizeUri(uri);
    return n.ok && s.access.visible('resource', s.canonicalResource(n.value));
  };
  let schemes: Set<string> | undefined;
  const keep = (v: unknown): boolean => {
    if (typeof v !== 'string') return true;
    const m = SCHEME.exec(v);
    if (m && (schemes ??= schemesOf(s.catalog)).has((m[1] as string).toLowerCase()) && !readable(v)) return false;
    if (s.template !== undefined && s.argument !== undefined)
      return readable(expand(s.template, s.argument, v, s.known));
    return true;
  };
  const values = c.values.filter(keep);
  if (values.length === c.values.length) return result;
  const removed = c.values.length - values.length;
  const completion: Record<string, unknown> = { ...c, values };
  if (typeof c.total === 'number') completion.total = Math.max(values.length, c.total - removed);
  return { ...result, completion };
}

/** For completion/complete: a filter of the result of the target (a template for ref/resource). */
export function completionShaper(
  params: Record<string, unknown>,
  access: AgentAccess,
  canonicalResource: (u: Upstream, uri: string) => string,
): (t: Target, template: string | undefined) => (result: Record<string, unknown>) => Record<string, unknown> {
  const arg = isObject(params.argument) && typeof params.argument.name === 'string' ? params.argument.name : undefined;
  const known = isObject(params.context) && isObject(params.context.arguments) ? params.context.arguments : {};
  return (t, template) => (result) =>
    filterCompletion(result, {
      access,
      canonicalResource: (uri) => canonicalResource(t.upstream, uri),
      catalog: t.upstream.catalog,
      template,
      argument: arg,
      known,
    });
}

// Rewrites what crosses the gateway in either direction: routed params toward the upstream, and
// resource URIs inside results back into the view's namespaced form.
import { isObject } from '../mcp/jsonrpc.js';
import type { Upstream } from '../upstream/upstream.js';
import type { View } from './view.js';

/** Content blocks that carry a URI: embedded resources and resource links. */
function rewriteContent(content: unknown, view: View, u: Upstream): unknown {
  if (!Array.isArray(content)) return content;
  let changed = false;
  const out = content.map((block) => {
    if (!isObject(block)) return block;
    if (block.type === 'resource_link' && typeof block.uri === 'string') {
      changed = true;
      return { ...block, uri: view.uri(u, block.uri) };
    }
    if (block.type === 'resource' && isObject(block.resource) && typeof block.resource.uri === 'string') {
      changed = true;
      return { ...block, resource: { ...block.resource, uri: view.uri(u, block.resource.uri) } };
    }
    return block;
  });
  return changed ? out : content;
}

/** Maps URIs in a result to the view's form. Only methods whose results carry URIs are touched. */
export function rewriteResult(
  method: string,
  result: Record<string, unknown>,
  view: View,
  u: Upstream,
): Record<string, unknown> {
  if (!view.namespaced) return result;
  switch (method) {
    case 'tools/call': {
      const content = rewriteContent(result.content, view, u);
      return content === result.content ? result : { ...result, content };
    }
    case 'resources/read':
      if (!Array.isArray(result.contents)) return result;
      return {
        ...result,
        contents: result.contents.map((c) =>
          isObject(c) && typeof c.uri === 'string' ? { ...c, uri: view.uri(u, c.uri) } : c,
        ),
      };
    case 'prompts/get':
      if (!Array.isArray(result.messages)) return result;
      return {
        ...result,
        messages: result.messages.map((m) =>
          isObject(m) ? { ...m, content: rewriteContentBlock(m.content, view, u) } : m,
        ),
      };
    default:
      return result;
  }
}

function rewriteContentBlock(block: unknown, view: View, u: Upstream): unknown {
  const out = rewriteContent([block], view, u);
  return Array.isArray(out) ? out[0] : block;
}

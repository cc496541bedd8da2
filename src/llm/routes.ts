// The OpenAI- and Anthropic-compatible HTTP API. Mounted after authentication, so every handler
// knows its agent (`c.get('agent')`).
import { Hono, type Context } from 'hono';
import type { AppEnv } from '../http/env.js';
import { headerOf } from '../http/node-io.js';
import { errorBody } from './dialect.js';
import { LlmProxy, type LlmDeps } from './proxy.js';
import type { ApiKind } from './runtime.js';

export type LlmRoutes = Hono<AppEnv> & {
  /** The proxy behind the routes (deployment health, for tests and the admin page). */
  readonly proxy: LlmProxy;
  /** Closes the upstream connection pools and the token counters this module made. */
  close(): Promise<void>;
};

export function llmRoutes(deps: LlmDeps): LlmRoutes {
  const proxy = new LlmProxy(deps);
  const app = new Hono<AppEnv>();

  app.post('/v1/chat/completions', (c) => proxy.handle(c, 'openai', 'chat', '/chat/completions'));
  app.post('/v1/embeddings', (c) => proxy.handle(c, 'openai', 'embeddings', '/embeddings'));
  app.post('/v1/messages', (c) => proxy.handle(c, 'anthropic', 'chat', '/v1/messages'));
  app.get('/v1/models', (c) => listModels(c, proxy, deps));
  app.get('/v1/models/:model{.+}', (c) => oneModel(c, proxy, deps));
  // Anything else under /v1 is ours too: answer in the API's shape, not the MCP one.
  app.all('/v1/*', (c) =>
    c.json(errorBody(apiOf(c), 404, `no route for ${c.req.method} ${c.req.path}`, 'not_found'), 404),
  );

  return Object.assign(app, { proxy, close: () => proxy.close() });
}

/** Anthropic's SDK sends `anthropic-version`; it gets Anthropic's list shape and Anthropic models. */
const apiOf = (c: Context<AppEnv>): ApiKind =>
  headerOf(c, 'anthropic-version') !== undefined ? 'anthropic' : 'openai';

function visibleModels(c: Context<AppEnv>, proxy: LlmProxy, deps: LlmDeps, kind: ApiKind): string[] {
  const access = deps.policies().access(c.get('agent'));
  return proxy.resolver.names.filter(
    (n) => proxy.resolver.resolve(kind, n) !== undefined && access.visible('model', n),
  );
}

const EPOCH = '1970-01-01T00:00:00Z';
const entry = (kind: ApiKind, id: string): Record<string, unknown> =>
  kind === 'anthropic'
    ? { type: 'model', id, display_name: id, created_at: EPOCH }
    : { id, object: 'model', created: 0, owned_by: 'tollgate' };

function listModels(c: Context<AppEnv>, proxy: LlmProxy, deps: LlmDeps): Response {
  const kind = apiOf(c);
  const names = visibleModels(c, proxy, deps, kind);
  const data = names.map((n) => entry(kind, n));
  if (kind === 'anthropic')
    return c.json({ data, has_more: false, first_id: names[0] ?? null, last_id: names[names.length - 1] ?? null });
  return c.json({ object: 'list', data });
}

function oneModel(c: Context<AppEnv>, proxy: LlmProxy, deps: LlmDeps): Response {
  const kind = apiOf(c);
  const id = c.req.param('model') ?? '';
  // An invisible model is reported as missing, not forbidden: agents learn nothing of others' models.
  if (!visibleModels(c, proxy, deps, kind).includes(id))
    return c.json(errorBody(kind, 404, `model ${id} does not exist`, 'model_not_found'), 404);
  return c.json(entry(kind, id));
}

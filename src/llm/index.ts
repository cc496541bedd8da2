// The LLM upstream proxy: OpenAI- and Anthropic-compatible endpoints with routing, retries,
// circuit breaking, token budgets and audit. See routes.ts for the endpoints, schema.ts for config.
export { llmConfigSchema, type LlmConfigInput, type ParsedLlmConfig, type Strategy } from './schema.js';
export {
  toLlmRuntime,
  type LlmConfig,
  type LlmUpstreamConfig,
  type LlmAliasConfig,
  type LlmDeploymentConfig,
  type ApiKind,
} from './runtime.js';
export { llmRoutes, type LlmRoutes } from './routes.js';
export { LlmProxy, type LlmDeps } from './proxy.js';

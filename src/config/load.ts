// Reads the gateway's YAML config, validates it, and returns frozen runtime config.
import { readFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { configSchema } from './schema.js';
import { ConfigError, parseYaml } from './yaml.js';
import { toRuntimeConfig, type RuntimeConfig } from './runtime.js';
import { keylessUpstreams } from '../llm/runtime.js';

export { ConfigError };

export interface LoadedConfig {
  config: RuntimeConfig;
  /** Human-readable warnings (e.g. a secret that fell back to its default). */
  warnings: string[];
  /**
   * Secrets that are the config file's own defaults (`${TOLLGATE_DEMO_KEY:-demo-key}` with the
   * variable unset): public anyway, so the start banner may show them; it shows no other secret.
   */
  demoSecrets: ReadonlySet<string>;
}

export function loadConfigFile(file: string, env: Readonly<Record<string, string | undefined>>): LoadedConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read file: ${(err as Error).message}`]);
  }
  return parseConfigText(text, path, env);
}

export function parseConfigText(
  text: string,
  file: string,
  env: Readonly<Record<string, string | undefined>>,
): LoadedConfig {
  const { value, defaulted, defaults, expanded } = parseYaml(text, file, configSchema, env);
  if (env.TOLLGATE_AUDIT_FILE) value.audit.file = env.TOLLGATE_AUDIT_FILE;
  if (env.TOLLGATE_PINS_FILE) value.pins.file = env.TOLLGATE_PINS_FILE;
  // `${OPENAI_API_KEY:-}`: empty on purpose (that LLM upstream is off), not a weak default.
  const secrets = defaulted.filter((v) => /KEY|SECRET|TOKEN|PASSWORD/i.test(v) && defaults[v] !== '');
  const warnings = secrets.map(
    (v) => `${v} is not set: using the default from ${file}. Set it before exposing the gateway.`,
  );
  if (value.llm)
    for (const name of keylessUpstreams(value.llm))
      warnings.push(`llm upstream ${name} is off: its api_key is empty (set its variable to serve it on /v1)`);
  const demoSecrets = new Set(secrets.map((v) => defaults[v] ?? '').filter((d) => d !== ''));
  // What `${VAR}`s put into each upstream's command line: cut from what that upstream says (arg-secrets.ts).
  const expandedArgs = new Map<string, string[]>();
  for (const e of expanded) {
    const [top, name, key] = e.path;
    if (top !== 'upstreams' || typeof name !== 'string' || key !== 'args') continue;
    expandedArgs.set(name, [...(expandedArgs.get(name) ?? []), e.value]);
  }
  return { config: toRuntimeConfig(value, dirname(file), expandedArgs), warnings, demoSecrets };
}

// Reads the gateway's YAML config, validates it, and returns frozen runtime config.
import { readFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { configSchema } from './schema.js';
import { ConfigError, parseYaml } from './yaml.js';
import { toRuntimeConfig, type RuntimeConfig } from './runtime.js';

export { ConfigError };

export interface LoadedConfig {
  config: RuntimeConfig;
  /** Human-readable warnings (e.g. a secret that fell back to its default). */
  warnings: string[];
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
  const { value, defaulted } = parseYaml(text, file, configSchema, env);
  if (env.TOLLGATE_AUDIT_FILE) value.audit.file = env.TOLLGATE_AUDIT_FILE;
  if (env.TOLLGATE_PINS_FILE) value.pins.file = env.TOLLGATE_PINS_FILE;
  const warnings = defaulted
    .filter((v) => /KEY|SECRET|TOKEN|PASSWORD/i.test(v))
    .map((v) => `${v} is not set: using the default from ${file}. Set it before exposing the gateway.`);
  return { config: toRuntimeConfig(value, dirname(file)), warnings };
}

// `tollgate check`: validates the config and the policy files, and points out patterns that name
// no configured server (a typo there silently grants or denies nothing).
import type { LoadedConfig } from '../config/load.js';
import { PolicySet } from '../policy/policy-set.js';

export function checkCommand(loaded: LoadedConfig, env: Readonly<Record<string, string | undefined>>, file: string, out: (s: string) => void, err: (s: string) => void): number {
  const { config } = loaded;
  for (const w of loaded.warnings) err(`warning: ${w}`);
  let summary = `${config.upstreams.length} upstreams, ${config.auth.apiKeys.length} api keys`;
  if (config.policies) {
    const set = PolicySet.load(config.policies.dir, env); // throws ConfigError with every problem
    const servers = config.upstreams.map((u) => u.name);
    let unknown = 0;
    for (const { file: f, kind, pattern } of set.patterns()) {
      const head = kind === 'resource' ? pattern.split('+')[0] ?? '' : pattern.split(config.mcp.nameSeparator)[0] ?? '';
      if (/[*?]/.test(head) || servers.includes(head)) continue;
      unknown++;
      err(`warning: ${f}: ${kind} pattern ${JSON.stringify(pattern)} names no configured server (servers: ${servers.join(', ')})`);
    }
    summary += `, ${set.files.length} policy files${unknown ? `, ${unknown} patterns naming unknown servers` : ''}`;
  }
  out(`${file}: OK (${summary})`);
  return 0;
}

// `tollgate key new [--agent NAME]`: a fresh API key, and the line that goes into the policy file.
import { generateApiKey, hashApiKey } from '../auth/api-keys.js';

export function keyNewCommand(agent: string | undefined, print: (s: string) => void): number {
  const key = generateApiKey();
  const name = agent ?? 'AGENT';
  print(
    [
      `API key (give it to the agent; it is not stored anywhere):`,
      `  ${key}`,
      ``,
      `Add its hash to policies/${name}.yaml:`,
      `  agent: ${name}`,
      `  identities:`,
      `    api_key_hashes:`,
      `      - "${hashApiKey(key)}"`,
      ``,
    ].join('\n'),
  );
  return 0;
}

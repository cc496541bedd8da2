// `tollgate key new [--agent NAME]`: a fresh API key, and the line that goes into the policy file.
import { generateApiKey, hashApiKey } from '../auth/api-keys.js';
import { AGENT_ID } from '../policy/agent-id.js';

export function keyNewCommand(
  agent: string | undefined,
  print: (s: string) => void,
  printError: (s: string) => void = print,
): number {
  // The name goes into a policy file's `agent:` and name: one a policy file would refuse is no use.
  if (agent !== undefined && !AGENT_ID.test(agent)) {
    printError(
      `tollgate key new: --agent ${JSON.stringify(agent)} is not a valid agent id: use letters, digits and _ . @ - (starting with a letter or digit, at most 128), i.e. ${AGENT_ID.source}\n`,
    );
    return 2;
  }
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

// A small argv parser: `tollgate <command> [--flag value] [--switch] [positional…]`.
import { parseArgs } from 'node:util';

export interface ParsedArgs {
  command: string | undefined;
  positionals: string[];
  flags: Record<string, string | boolean | undefined>;
}

export function parseCli(argv: readonly string[]): ParsedArgs {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string', short: 'c' },
      host: { type: 'string' },
      port: { type: 'string', short: 'p' },
      agent: { type: 'string' },
      groups: { type: 'string' },
      connect: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
  const [command, ...rest] = positionals;
  return { command, positionals: rest, flags: values };
}

// The only module that reads process.env and process.argv.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LoadedConfig } from './config/load.js';
import { parseCli } from './cli/args.js';
import { HELP } from './cli/help.js';
// Commands are imported when run, and so is the config loader: `serve` loads the whole gateway
// (~0.6 s of CPU) and the config schema alone (zod, yaml) ~0.15 s, which `--help`, `key new`,
// `user add`, `audit FILE` or `pins --file` never need.
import { VERSION } from './version.js';
import { StartupError, formatStartupError, quickstartConfig } from './cli/startup-error.js';
import { tuneGcForServing, youngGenerationHint } from './cli/gc-tuning.js';

type LoadConfigFile = typeof import('./config/load.js').loadConfigFile;

/** The config file, or a one-line error naming the quickstart's when there is none. */
function loadConfig(load: LoadConfigFile, path: string, env: NodeJS.ProcessEnv, given: boolean): LoadedConfig {
  if (!existsSync(path))
    throw new StartupError(
      `no config file at ${path}${given ? '' : ' (the default: no --config or TOLLGATE_CONFIG given)'}`,
      `try the quickstart's: tollgate serve --config ${quickstartConfig(fileURLToPath(new URL('..', import.meta.url)))} (or npm start in the repository); choose a file with --config PATH or TOLLGATE_CONFIG`,
    );
  return load(path, env);
}

/** The config loader (zod schemas, yaml), imported by the commands that read a config. */
async function configLoader(): Promise<LoadConfigFile> {
  return (await import('./config/load.js')).loadConfigFile;
}

/**
 * A reader that stops early (`tollgate audit | head`, `tollgate pins list | less` quit) closes the pipe:
 * end quietly as a process killed by SIGPIPE would (exit 141), not with a stack trace or an error line.
 * Not for `serve`, whose log also goes to stdout: a closed pipe must not stop a gateway.
 */
function quietOnClosedPipe(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(141);
    throw err;
  });
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] !== 'serve') quietOnClosedPipe();
  // `audit` has its own flags (--agent, --tool, …): it parses its own arguments.
  if (argv[0] === 'audit') {
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    const { auditCommand } = await import('./cli/audit.js');
    return auditCommand(argv.slice(1), {
      stdout: process.stdout,
      stderr: process.stderr,
      isTTY: process.stdout.isTTY === true,
      defaultPath: process.env.TOLLGATE_AUDIT_FILE,
      env: process.env,
      defaultConfig: {
        path: process.env.TOLLGATE_CONFIG ?? 'tollgate.yaml',
        exists: existsSync(process.env.TOLLGATE_CONFIG ?? 'tollgate.yaml'),
      },
      signal: stop.signal,
    });
  }
  // `pins` too (--file, --all, --json).
  if (argv[0] === 'pins') {
    const { pinsCommand } = await import('./cli/pins.js');
    return pinsCommand(argv.slice(1), {
      out: (l) => process.stdout.write(`${l}\n`),
      err: (l) => process.stderr.write(`${l}\n`),
      env: process.env,
      defaultConfig: process.env.TOLLGATE_CONFIG ?? 'tollgate.yaml',
    });
  }
  let args;
  try {
    args = parseCli(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (args.flags.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (args.flags.help || !args.command || args.command === 'help') {
    process.stdout.write(HELP);
    return args.command || args.flags.help ? 0 : 2;
  }
  const env = process.env;
  const configGiven = typeof args.flags.config === 'string' || env.TOLLGATE_CONFIG !== undefined;
  const configPath =
    typeof args.flags.config === 'string' ? args.flags.config : (env.TOLLGATE_CONFIG ?? 'tollgate.yaml');
  switch (args.command) {
    case 'check': {
      const { checkCommand } = await import('./cli/check.js');
      return checkCommand(loadConfig(await configLoader(), configPath, env, configGiven), env, configPath, {
        out: (l) => process.stdout.write(`${l}\n`),
        err: (l) => process.stderr.write(`${l}\n`),
        connect: args.flags.connect === true,
      });
    }
    case 'key': {
      if (args.positionals[0] !== 'new') {
        process.stderr.write(`usage: tollgate key new [--agent NAME]\n`);
        return 2;
      }
      const { keyNewCommand } = await import('./cli/key.js');
      return keyNewCommand(
        typeof args.flags.agent === 'string' ? args.flags.agent : undefined,
        (l) => process.stdout.write(l),
        (l) => process.stderr.write(l),
      );
    }
    case 'user': {
      if (args.positionals[0] !== 'add') {
        process.stderr.write('usage: tollgate user add NAME [--groups a,b] < password-file\n');
        return 2;
      }
      // The password: the first line of standard input (a pipe or a file; never an argument).
      const chunks: Buffer[] = [];
      if (!process.stdin.isTTY) for await (const c of process.stdin) chunks.push(c as Buffer);
      else process.stderr.write('password (then Enter, Ctrl-D): ');
      if (process.stdin.isTTY) for await (const c of process.stdin) chunks.push(c as Buffer);
      const password = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
      const { userAddCommand } = await import('./cli/user.js');
      return userAddCommand(
        args.positionals[1],
        typeof args.flags.groups === 'string' ? args.flags.groups : undefined,
        password,
        (l) => process.stdout.write(l),
        (l) => process.stderr.write(l),
      );
    }
    case 'serve': {
      tuneGcForServing();
      const load = await configLoader();
      const loaded = loadConfig(load, configPath, env, configGiven);
      const port = typeof args.flags.port === 'string' ? Number(args.flags.port) : undefined;
      if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) {
        process.stderr.write(`--port must be 0–65535\n`);
        return 2;
      }
      const { serveCommand } = await import('./cli/serve.js');
      await serveCommand({
        loaded,
        env,
        host: typeof args.flags.host === 'string' ? args.flags.host : undefined,
        port,
        print: (l) => process.stdout.write(`${l}\n`),
        pretty: process.stdout.isTTY === true,
        reload: () => loadConfig(load, configPath, env, configGiven),
        notes: [youngGenerationHint(process.execArgv, env.NODE_OPTIONS)].filter((n) => n !== undefined),
      });
      return -1; // keep running
    }
    default:
      process.stderr.write(`unknown command: ${args.command}\n\n${HELP}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  async (err: unknown) => {
    if (err instanceof StartupError) {
      process.stderr.write(formatStartupError(err));
      process.exitCode = 1;
      return;
    }
    // Already loaded when the config is what failed; a cheap import otherwise.
    const { ConfigError } = await import('./config/yaml.js');
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    process.stderr.write(`tollgate: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);

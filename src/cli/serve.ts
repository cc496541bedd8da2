// `tollgate serve`: start the gateway, print how to connect, stop cleanly on SIGINT/SIGTERM.
import type { LoadedConfig } from '../config/load.js';
import pino from 'pino';
import pretty from 'pino-pretty';
import { Gateway } from '../gateway.js';

export interface ServeOptions {
  loaded: LoadedConfig;
  env: Readonly<Record<string, string | undefined>>;
  host: string | undefined;
  port: number | undefined;
  print: (line: string) => void;
  /** Human-readable logs (stdout is a terminal). */
  pretty: boolean;
  /** Reads and validates the config file again (SIGHUP); throws ConfigError when it is invalid. */
  reload: () => LoadedConfig;
}

/** How long a shutdown waits for calls in flight. */
const DRAIN_MS = 10_000;

export async function serveCommand(o: ServeOptions): Promise<Gateway> {
  const level = o.loaded.config.log.level;
  // Readable lines for a person at a terminal; JSON for everything else (log shippers).
  const logger = o.pretty
    ? pino(
        { level },
        pretty({ colorize: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }),
      )
    : pino({ level });
  const gw = await Gateway.open({ config: o.loaded.config, env: o.env, logger });
  // Handlers first: a signal that arrives before they exist kills the process without cleanup
  // (and leaves stdio children behind).
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    gw.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), DRAIN_MS + 5_000);
    force.unref();
    void gw.close(DRAIN_MS).then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => {
    try {
      const { applied, restartNeeded } = gw.applyConfig(o.reload().config);
      gw.log.info(
        { applied, restartNeeded },
        restartNeeded.length ? 'config reloaded; some changes need a restart' : 'config reloaded',
      );
    } catch (err) {
      // A broken file never stops a running gateway: the old config stays in force.
      gw.log.error({ err: (err as Error).message }, 'config reload rejected; the running config stays in force');
    }
  });
  for (const w of o.loaded.warnings) gw.log.warn(w);
  const startedUpstreams = gw.startUpstreams();
  const { url } = await gw.listen(o.port ?? o.loaded.config.server.port, o.host ?? o.loaded.config.server.host);
  await startedUpstreams;
  await gw.catalogsSettled(5_000); // the banner's tool count is the current one
  const ready = gw.upstreams.filter((u) => u.state === 'ready');
  const tools = ready.reduce((n, u) => n + u.catalog.tools.length, 0);
  const firstKey = o.loaded.config.auth.apiKeys[0];
  o.print(
    [
      '',
      `Tollgate is listening on ${url}/mcp`,
      `  upstreams: ${gw.upstreams.map((u) => `${u.name} (${u.state})`).join(', ')} — ${tools} tools`,
      ...gw.upstreams.map((u) => `  ${u.name} alone, un-prefixed: ${url}/mcp/${u.name}`),
      `  legacy SSE clients: ${url}/sse`,
      firstKey
        ? `  agent "${firstKey.agent}" connects with header:  Authorization: Bearer ${firstKey.key}`
        : '  (anonymous access)',
      ...(o.loaded.config.admin.tokens[0]
        ? [`  admin page: ${url}/admin/  (sign in with the admin token: ${o.loaded.config.admin.tokens[0]})`]
        : []),
      ...(o.loaded.config.audit.file && !o.loaded.config.audit.stdout
        ? [`  audit log: ${o.loaded.config.audit.file}  (tollgate audit ${o.loaded.config.audit.file})`]
        : []),
      '',
      'Try it:',
      `  claude mcp add --transport http tollgate ${url}/mcp --header "Authorization: Bearer ${firstKey?.key ?? '…'}"`,
      '',
    ].join('\n'),
  );
  return gw;
}

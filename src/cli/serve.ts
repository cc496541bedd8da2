// `tollgate serve`: start the gateway, print how to connect, stop cleanly on SIGINT/SIGTERM.
import type { LoadedConfig } from '../config/load.js';
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { Gateway } from '../gateway.js';
import { StartupError, reasonOf } from './startup-error.js';

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
  const gw = await openGateway(o, logger);
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
  // Listen before any stdio upstream is spawned: a port in use stops the start with nothing to clean up.
  const { url } = await listen(gw, o);
  await gw.startUpstreams();
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
      ...(o.loaded.config.metrics.enabled
        ? [
            o.loaded.config.metrics.token === undefined
              ? `  metrics: ${url}/metrics  (OPEN: no metrics.token set; it lists agent ids and upstream names)`
              : `  metrics: ${url}/metrics  (Authorization: Bearer <metrics.token>)`,
          ]
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

/** Gateway.open, with the audit log's open failure said in one line. */
async function openGateway(o: ServeOptions, logger: Logger): Promise<Gateway> {
  const file = o.loaded.config.audit.stdout ? undefined : o.loaded.config.audit.file;
  try {
    return await Gateway.open({ config: o.loaded.config, env: o.env, logger });
  } catch (err) {
    const path = (err as NodeJS.ErrnoException).path;
    if (!file || path === undefined || !file.startsWith(path)) throw err;
    throw new StartupError(
      `cannot write the audit log ${file}: ${reasonOf(err)}`,
      `${path} must be a ${path === file ? 'file' : 'folder'} that this user (uid ${process.getuid?.() ?? '?'}) can write, or point audit.file (env TOLLGATE_AUDIT_FILE) elsewhere; audit.file: null turns the log off`,
    );
  }
}

async function listen(gw: Gateway, o: ServeOptions): Promise<{ url: string }> {
  const port = o.port ?? o.loaded.config.server.port;
  const host = o.host ?? o.loaded.config.server.host;
  try {
    return await gw.listen(port, host);
  } catch (err) {
    await gw.close();
    const code = (err as NodeJS.ErrnoException).code;
    const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    if (code === 'EADDRINUSE')
      throw new StartupError(
        `cannot listen on ${where}: the port is in use (another tollgate?)`,
        'stop it, or choose another port: --port P (0 picks a free one), server.port in the config, or TOLLGATE_PORT for the quickstart',
      );
    if (code === 'EACCES' || code === 'EPERM')
      throw new StartupError(
        `cannot listen on ${where}: ${reasonOf(err)}`,
        'ports below 1024 need privileges: choose --port 1024 or higher',
      );
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
      throw new StartupError(
        `cannot listen on ${where}: ${reasonOf(err)}`,
        'choose an address of this machine with --host (127.0.0.1 locally, 0.0.0.0 for every interface) or server.host',
      );
    throw err;
  }
}

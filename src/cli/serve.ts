// `tollgate serve`: start the gateway, print how to connect, stop cleanly on SIGINT/SIGTERM.
import { dirname } from 'node:path';
import { SigningKeyError } from '../audit/checkpoint.js';
import { AuditLogInUseError } from '../audit/lock.js';
import type { LoadedConfig } from '../config/load.js';
import pino, { type Logger } from 'pino';
import { Gateway } from '../gateway.js';
import { PolicySet } from '../policy/policy-set.js';
import { whyUnwritable } from './check-writable.js';
import { StartupError, reasonOf } from './startup-error.js';
import { NO_CREDENTIALS_HINT, bannerAuth, noCredentialsProblem } from './banner-auth.js';

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
  /** Advice for the log at start (how node was started). */
  notes?: readonly string[];
}

/** How long a shutdown waits for calls in flight. */
const DRAIN_MS = 10_000;

export async function serveCommand(o: ServeOptions): Promise<Gateway> {
  const noCredentials = noCredentialsProblem(o.loaded.config);
  if (noCredentials) throw new StartupError(noCredentials, NO_CREDENTIALS_HINT);
  // The policy files before anything is opened: a missing or broken policies.dir is then the one
  // error printed, not preceded by a store's warning about it (the pin file's default folder is that
  // dir) nor leaving an audit file behind. Gateway.open loads them again, as a reload does.
  if (o.loaded.config.policies) PolicySet.load(o.loaded.config.policies.dir, o.env);
  const level = o.loaded.config.log.level;
  // Readable lines for a person at a terminal; JSON for everything else (log shippers), which does
  // not import the formatter.
  const logger = o.pretty
    ? pino(
        { level },
        (await import('pino-pretty')).default({
          colorize: true,
          singleLine: true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname',
        }),
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
  for (const n of o.notes ?? []) gw.log.info(n);
  gw.warmTokenizers(); // off the request path: an agent's first LLM call would wait ~2 s
  // Listen before any stdio upstream is spawned: a port in use stops the start with nothing to clean up.
  const { url } = await listen(gw, o);
  await gw.startUpstreams();
  await gw.catalogsSettled(5_000); // the banner's tool count is the current one
  o.print(banner(gw, url, o.loaded).join('\n'));
  return gw;
}

/** Gateway.open, with the audit log's open failure said in one line. */
async function openGateway(o: ServeOptions, logger: Logger): Promise<Gateway> {
  const file = o.loaded.config.audit.stdout ? undefined : o.loaded.config.audit.file;
  // The OAuth file store is written on the first registration or grant, each then a 500: say it now.
  const oauth = o.loaded.config.auth.oauth;
  const oauthUnwritable = oauth?.store === 'file' ? whyUnwritable(oauth.file) : undefined;
  if (oauth && oauthUnwritable)
    throw new StartupError(
      `cannot write the OAuth store ${oauth.file}: ${oauthUnwritable}`,
      `point auth.oauth.file at a folder this user (uid ${process.getuid?.() ?? '?'}) can write (in the container image: /var/lib/tollgate/tollgate-oauth.json, the data volume), or use auth.oauth.store: redis`,
    );
  try {
    return await Gateway.open({ config: o.loaded.config, env: o.env, logger });
  } catch (err) {
    if (err instanceof SigningKeyError)
      throw new StartupError(
        err.message,
        'make a key pair: tollgate audit keygen --out FILE, and set audit.signing_key_file to FILE',
      );
    if (err instanceof AuditLogInUseError)
      throw new StartupError(err.message, 'each gateway instance needs its own audit.file (env TOLLGATE_AUDIT_FILE)');
    const path = (err as NodeJS.ErrnoException).path;
    // The lock beside the log (`<file>.lock`) is the first thing written there: its failure is the log's.
    const lock = file !== undefined && path === `${file}.lock`;
    if (!file || path === undefined || !(lock || file.startsWith(path))) throw err;
    throw new StartupError(
      `cannot write the audit log ${file}: ${reasonOf(err)}`,
      `${lock ? dirname(file) : path} must be a ${path === file ? 'file' : 'folder'} that this user (uid ${process.getuid?.() ?? '?'}) can write, or point audit.file (env TOLLGATE_AUDIT_FILE) elsewhere (in the container image: /var/lib/tollgate/audit.jsonl, the data volume; the config's folder is mounted read-only); audit.file: null turns the log off`,
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

/** How to connect, printed once the gateway listens. Shows no secret but the config's own demo defaults. */
function banner(gw: Gateway, url: string, loaded: LoadedConfig): string[] {
  const { config, demoSecrets } = loaded;
  const ready = gw.upstreams.filter((u) => u.state === 'ready');
  const tools = ready.reduce((n, u) => n + u.catalog.tools.length, 0);
  const auth = bannerAuth(config, gw.policies.current().apiKeyHashCount, demoSecrets);
  const adminToken = config.admin.tokens[0];
  const mcp = gw.upstreams.length > 0;
  const lines = [''];
  if (mcp)
    lines.push(
      `Tollgate is listening on ${url}/mcp`,
      `  upstreams: ${gw.upstreams.map((u) => `${u.name} (${u.state})`).join(', ')} — ${tools} tools`,
      ...gw.upstreams.map((u) => `  ${u.name} alone, un-prefixed: ${url}/mcp/${u.name}`),
      `  legacy SSE clients: ${url}/sse`,
    );
  else lines.push(`Tollgate is listening on ${url} (LLM traffic only: no MCP upstreams)`);
  if (config.llm)
    lines.push(
      `  LLM API: ${url}/v1 (OpenAI: /v1/chat/completions, /v1/embeddings; Anthropic: /v1/messages) — models: ${gw.llm?.proxy.resolver.names.join(', ') || 'none'}`,
    );
  lines.push(...auth.lines);
  const oauth = config.auth.oauth;
  if (oauth) {
    const demoUser = oauth.users.find((u) => u.password !== undefined && demoSecrets.has(u.password));
    lines.push(
      `  OAuth login: clients without a key log in at ${gw.oauth?.issuer() ?? url}/authorize (they find it themselves: npx mcp-remote ${url}/mcp)`,
      ...(demoUser
        ? [
            `  user "${demoUser.name}" logs in with password ${demoUser.password}  (the demo password: set its variable before exposing the gateway)`,
          ]
        : []),
    );
  }
  if (adminToken)
    lines.push(
      `  admin page: ${url}/admin/  (sign in with the admin token${demoSecrets.has(adminToken) ? `: ${adminToken}, the demo token` : ''})`,
    );
  if (config.metrics.enabled)
    lines.push(
      config.metrics.token === undefined
        ? `  metrics: ${url}/metrics  (OPEN: no metrics.token set; it lists agent ids and upstream names)`
        : `  metrics: ${url}/metrics  (Authorization: Bearer <metrics.token>)`,
    );
  const tel = config.telemetry;
  if (tel)
    lines.push(
      `  traces: OTLP/HTTP to ${tel.tracesUrl}  (sampling ${tel.ratio}${tel.parentBased ? ", or the agent's sampled flag" : ''})`,
    );
  if (config.audit.file && !config.audit.stdout)
    lines.push(`  audit log: ${config.audit.file}  (tollgate audit ${config.audit.file})`);
  lines.push('', 'Try it:');
  if (mcp)
    lines.push(
      `  claude mcp add --transport http tollgate ${url}/mcp${auth.header ? ` --header "${auth.header}"` : ''}`,
    );
  if (config.llm)
    lines.push(
      `  curl ${url}/v1/models${auth.header ? ` -H "${auth.header}"` : ''}   (OpenAI SDK: base_url ${url}/v1, api_key: the agent key)`,
    );
  lines.push('');
  return lines;
}

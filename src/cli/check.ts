// `tollgate check`: validates the config and the policy files, and points out patterns that name
// no configured server (a typo there silently grants or denies nothing).
// The gateway (the MCP SDK, Hono, every upstream transport: ~0.5 s of CPU to import) is loaded only
// for --connect; the plain check needs the config and the policy files.
import type { LoadedConfig } from '../config/load.js';
import { PolicySet } from '../policy/policy-set.js';
import { compileGlob } from '../policy/glob.js';
import type { Gateway } from '../gateway.js';
import { toolDefinition } from '../pins/canonical.js';
import { injectionMarkers } from '../pins/markers.js';
import { printable } from './terminal-text.js';
import { NO_CREDENTIALS_HINT, noCredentialsProblem } from './banner-auth.js';
import { filesToWrite, whyUnwritable } from './check-writable.js';

/** How long `--connect` waits for upstreams that keep announcing catalog changes. */
const CATALOG_WAIT_MS = 10_000;

export interface CheckIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Also connect to the upstreams and compare patterns with the tools they really offer. */
  connect: boolean;
}

export async function checkCommand(
  loaded: LoadedConfig,
  env: Readonly<Record<string, string | undefined>>,
  file: string,
  io: CheckIo,
): Promise<number> {
  const { out, err } = io;
  const { config } = loaded;
  for (const w of loaded.warnings) err(`warning: ${w}`);
  let summary = `${count(config.upstreams.length, 'upstream')}${config.llm ? `, ${count(config.llm.upstreams.length, 'llm upstream')}` : ''}, ${count(config.auth.apiKeys.length, 'api key')}`;
  let set: PolicySet | undefined;
  if (config.policies) {
    set = PolicySet.load(config.policies.dir, env); // throws ConfigError with every problem
    const servers = config.upstreams.map((u) => u.name);
    let unknown = 0;
    for (const { file: f, kind, pattern } of set.patterns()) {
      if (kind === 'model') continue; // model names are not namespaced by server
      const head =
        kind === 'resource' ? (pattern.split('+')[0] ?? '') : (pattern.split(config.mcp.nameSeparator)[0] ?? '');
      if (/[*?]/.test(head) || servers.includes(head)) continue;
      unknown++;
      err(
        `warning: ${f}: ${kind} pattern ${JSON.stringify(pattern)} names no configured server (servers: ${servers.join(', ')})`,
      );
    }
    const hashes = set.apiKeyHashCount;
    summary += `, ${count(set.files.length, 'policy file')}${hashes ? ` with ${count(hashes, 'api key')}` : ''}${unknown ? `, ${count(unknown, 'pattern')} naming unknown servers` : ''}`;
  }
  const { auth } = config;
  if (auth.jwt) {
    // serve reads the JWT key file as it starts: a missing or malformed one fails the check the same
    // way (a ConfigError naming auth.jwt.public_key_file or jwk_file), not the first start.
    const [{ buildAuthenticators }, { default: pino }] = await Promise.all([
      import('../auth/build.js'),
      import('pino'),
    ]);
    buildAuthenticators(config, () => set ?? PolicySet.allowAll(), pino({ level: 'silent' }));
  }
  const noCredentials = noCredentialsProblem(config);
  if (noCredentials) {
    // `serve` refuses this config: so does the check.
    err(`${file}: ${noCredentials}\n  hint: ${NO_CREDENTIALS_HINT}`);
    return 1;
  }
  if (auth.apiKeys.length === 0 && !set?.apiKeyHashCount && !auth.jwt && !auth.oauth && !auth.allowAnonymous)
    err(
      'warning: no policy file lists api_key_hashes (and no other credential is configured): every request is refused (401) until one does; make a key with `tollgate key new --agent NAME`',
    );
  let unwritable = 0;
  for (const f of filesToWrite(config)) {
    const why = whyUnwritable(f.path);
    if (why === undefined) continue;
    const uid = process.getuid?.() ?? '?';
    if (f.fatal) unwritable++;
    err(
      `${f.fatal ? 'error' : 'warning'}: ${f.key} ${f.path} cannot be written by this user (uid ${uid}): ${why}; ${f.consequence} — point it at a writable folder (in the container image: /var/lib/tollgate, the data volume)`,
    );
  }
  if (io.connect) {
    const [{ Gateway }, { default: pino }] = await Promise.all([import('../gateway.js'), import('pino')]);
    // Without Gateway.open: nothing is pinned or audited by a check.
    const gw = new Gateway({ config, env, logger: pino({ level: 'silent' }) });
    try {
      await gw.startUpstreams();
      await gw.catalogsSettled(CATALOG_WAIT_MS);
      summary += reportNotReady(gw, set !== undefined, err);
      if (set) summary += checkAgainstCatalogs(gw, set, err);
      summary += flagInjections(gw, err);
    } finally {
      await gw.close();
    }
  }
  if (unwritable > 0) {
    err(`${file}: ${count(unwritable, 'file')} serve must write cannot be written (${summary})`);
    return 1;
  }
  out(`${file}: OK (${summary})`);
  return 0;
}

/** Warns about tool definitions that look like prompt injection (tool poisoning). */
function flagInjections(gw: Gateway, err: (s: string) => void): string {
  let flagged = 0;
  for (const u of gw.upstreams) {
    for (const t of u.catalog.tools) {
      const markers = injectionMarkers(toolDefinition(t));
      if (markers.length > 0) flagged++;
      for (const m of markers)
        err(
          // The upstream's own text, inert: it must not erase or fake the warning it triggers.
          `warning: tool ${printable(gw.relay.canonical(u.name, 'tool', String(t.name)))}: possible prompt injection in ${printable(m.path)}: ${m.kind}: ${printable(m.excerpt)}`,
        );
    }
  }
  return flagged ? `, ${count(flagged, 'tool')} flagged for prompt-injection markers` : '';
}

/**
 * Warns about each upstream --connect could not bring up (unreachable, a command that does not start),
 * with or without policies: that is what an operator runs `check --connect` to learn. serve starts
 * with such an upstream down and keeps retrying, so this is a warning, not a failed check.
 */
function reportNotReady(gw: Gateway, withPolicies: boolean, err: (s: string) => void): string {
  const down = gw.upstreams.filter((u) => u.state !== 'ready');
  for (const u of down)
    err(
      `warning: upstream ${u.name} is ${u.state}${u.lastError ? `: ${printable(u.lastError)}` : ''}${withPolicies ? '; its names are not checked' : ''}`,
    );
  return down.length ? `, ${down.length} of ${count(gw.upstreams.length, 'upstream')} not ready` : '';
}

/** Warns about exact-name or glob patterns that match nothing the connected upstreams offer. */
function checkAgainstCatalogs(gw: Gateway, set: PolicySet, err: (s: string) => void): string {
  const names = { tool: [] as string[], prompt: [] as string[], resource: [] as string[] };
  for (const u of gw.upstreams) {
    for (const t of u.catalog.tools) names.tool.push(gw.relay.canonical(u.name, 'tool', String(t.name)));
    for (const p of u.catalog.prompts) names.prompt.push(gw.relay.canonical(u.name, 'prompt', String(p.name)));
    for (const r of u.catalog.resources) names.resource.push(gw.relay.canonical(u.name, 'resource', String(r.uri)));
  }
  const ready = new Set(gw.upstreams.filter((u) => u.state === 'ready').map((u) => u.name));
  let unmatched = 0;
  for (const { file, kind, pattern } of set.patterns()) {
    if (kind === 'resource' || kind === 'model' || pattern === '*') continue; // resources can be read beyond what is listed; models are not MCP
    const server = [...ready].find((s) => pattern.startsWith(s));
    if (!server) continue;
    const m = compileGlob(pattern);
    if (names[kind].some((n) => m(n))) continue;
    unmatched++;
    err(`warning: ${file}: ${kind} pattern ${JSON.stringify(pattern)} matches no ${kind} that ${server} offers`);
  }
  return unmatched ? `, ${count(unmatched, 'pattern')} matching no upstream name` : ', every pattern matches';
}

/** "1 api key", "2 api keys". */
const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

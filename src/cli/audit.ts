// `tollgate audit …`: read, summarize and verify the audit log.
import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { followAudit, parseTimeSpec, readAudit, type AuditQuery } from '../audit/query.js';
import { auditStats } from '../audit/stats.js';
import { auditKeygen, auditVerify } from './audit-sign.js';
import { Table, renderStats } from './audit-format.js';
import { printableJson } from './terminal-text.js';
// Imported when used: the config loader (zod, yaml) only to find the log through a config, the
// PostgreSQL reader (pg) only for the fleet. Reading a file needs neither.
import type { PgSource } from './audit-postgres.js';

export const DEFAULT_AUDIT_PATH = './tollgate-audit.jsonl';

export const AUDIT_HELP = `Usage:
  tollgate audit [FILE|DIR] [filters] [--follow] [--json]   list records (oldest first)
  tollgate audit stats [FILE|DIR] [filters] [--json]        counts, tokens, latency per agent/tool/decision
  tollgate audit verify [FILE|DIR] [--partial]              check the hash chain; exit 1 if broken
        [--public-key PUB.pem]… [--anchor FILE]…           and the signed checkpoints: exit 3 if records are unsigned
  tollgate audit [stats|verify] --postgres URL [--table T]  the fleet's records in PostgreSQL (every instance;
                                                            verify: each instance's chain, options as above)
  tollgate audit keygen [--out FILE]                        an Ed25519 key pair for signed checkpoints

Without FILE|DIR: the audit.file of --config, else $TOLLGATE_AUDIT_FILE, else the audit.file of
$TOLLGATE_CONFIG or ./tollgate.yaml when it exists, else ./tollgate-audit.jsonl.

Options:
  -c, --config PATH  gateway config whose audit.file to read (its audit.postgres when set: the fleet)
  --postgres URL     read the fleet's records from PostgreSQL (audit.postgres.url)
  --table T          the audit table (default tollgate_audit)

Filters:
  --agent A          agent id
  --tool GLOB        tool, prompt or resource name (namespaced or native); * and ? wildcards
  --server S         upstream server
  --instance I       gateway instance (service.instance.id)
  --decision D       allowed, denied, rate_limited, budget_exceeded, error, approval_* (globs; comma-separated for several)
  --since T          30m, 1h, 2d (ago) or an ISO date
  --until T          same forms; exclusive
  --limit N          only the last N matching records
  -f, --follow       keep printing records as they are written (across rotation)
  --json             JSON Lines (stats: one JSON object)
  --partial          verify: older files (rows) were removed on purpose; do not require the chain's genesis
  --public-key F     verify: check checkpoint signatures with this public key (repeat for older keys)
  --anchor F         verify: checkpoints kept elsewhere (gateway log, webhook bodies): a log cut off after
                     one of them shows (ANCHOR, exit 1)
`;

export interface AuditIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  isTTY: boolean;
  now?: () => number;
  /** Used when no FILE|DIR is given (the caller resolves env); default ./tollgate-audit.jsonl. */
  defaultPath?: string;
  /** For --config's ${VAR}s; the caller passes process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** A config file whose audit.file is read when neither FILE|DIR, --config nor defaultPath is given. */
  defaultConfig?: { path: string; exists: boolean };
  /** Ends --follow (e.g. on SIGINT); the command then exits 0. */
  signal?: AbortSignal;
}

export async function auditCommand(argv: string[], io: AuditIo): Promise<number> {
  if (argv[0] === 'keygen')
    return auditKeygen(
      argv.slice(1),
      (s) => io.stdout.write(s),
      (s) => io.stderr.write(s),
    );
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string', short: 'c' },
        agent: { type: 'string' },
        tool: { type: 'string' },
        server: { type: 'string' },
        instance: { type: 'string' },
        postgres: { type: 'string' },
        table: { type: 'string' },
        decision: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        limit: { type: 'string' },
        follow: { type: 'boolean', short: 'f' },
        json: { type: 'boolean' },
        partial: { type: 'boolean' },
        'public-key': { type: 'string', multiple: true },
        anchor: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return usage(io, (err as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    io.stdout.write(AUDIT_HELP);
    return 0;
  }
  const sub = positionals[0] === 'stats' || positionals[0] === 'verify' ? positionals[0] : 'list';
  const rest = sub === 'list' ? positionals : positionals.slice(1);
  if (rest.length > 1) return usage(io, `expected at most one FILE|DIR, got ${rest.join(' ')}`);
  if (rest[0] !== undefined && v.config !== undefined) return usage(io, 'give FILE|DIR or --config, not both');
  if (v.postgres !== undefined && (rest[0] !== undefined || v.config !== undefined))
    return usage(io, 'give --postgres, FILE|DIR or --config, one of them');
  let path = '';
  let pg: PgSource | undefined;
  try {
    pg = v.postgres !== undefined ? { url: v.postgres, table: v.table ?? 'tollgate_audit' } : undefined;
    if (!pg && rest[0] !== undefined) path = rest[0];
    else if (!pg) {
      const source = await configuredSource(v.config, io);
      if ('pg' in source) pg = source.pg;
      else path = source.path;
    }
  } catch (err) {
    io.stderr.write(`tollgate audit: ${(err as Error).message}\n`);
    return 1;
  }
  if (v.table !== undefined && v.postgres === undefined) return usage(io, '--table goes with --postgres');
  const filtered = ['agent', 'tool', 'server', 'instance', 'decision', 'since', 'until', 'limit'].some(
    (k) => v[k as keyof typeof v] !== undefined,
  );
  if (sub === 'verify' && (filtered || v.follow || v.json))
    return usage(io, 'verify takes no filters, --follow or --json');
  if (sub === 'stats' && v.follow) return usage(io, 'stats does not follow');
  if (sub !== 'verify' && (v.partial || v['public-key'] || v.anchor))
    return usage(io, '--partial, --public-key and --anchor are for verify');

  const q: AuditQuery = {};
  try {
    const now = (io.now ?? Date.now)();
    if (v.agent !== undefined) q.agent = v.agent;
    if (v.tool !== undefined) q.tool = v.tool;
    if (v.server !== undefined) q.server = v.server;
    if (v.instance !== undefined) q.instance = v.instance;
    if (v.decision !== undefined)
      q.decision = v.decision
        .split(',')
        .map((d) => d.trim())
        .filter(Boolean);
    if (v.since !== undefined) q.since = parseTimeSpec(v.since, now);
    if (v.until !== undefined) q.until = parseTimeSpec(v.until, now);
    if (v.limit !== undefined) {
      if (!/^\d+$/.test(v.limit)) throw new Error(`--limit must be a whole number, got "${v.limit}"`);
      q.limit = Number(v.limit);
    }
  } catch (err) {
    return usage(io, (err as Error).message);
  }

  if (pg) {
    const { pgAuditCommand } = await import('./audit-postgres.js');
    return pgAuditCommand(
      pg,
      sub,
      q,
      {
        follow: v.follow === true,
        json: v.json === true,
        partial: v.partial === true,
        publicKeys: v['public-key'] ?? [],
        anchors: v.anchor ?? [],
        ...(io.now && { now: io.now() }),
      },
      { stdout: io.stdout, stderr: io.stderr, isTTY: io.isTTY, ...(io.signal ? { signal: io.signal } : {}) },
    );
  }
  if (!(await stat(path).catch(() => undefined))) {
    io.stderr.write(`tollgate audit: no audit log at ${path}\n`);
    return 1;
  }
  let bad = 0;
  const onBadLine = () => void bad++;
  const out = (s: string) => write(io.stdout, s);
  try {
    if (sub === 'verify')
      return await auditVerify(
        path,
        {
          partial: v.partial === true,
          publicKeys: v['public-key'] ?? [],
          anchors: v.anchor ?? [],
          ...(io.now && { now: io.now() }),
        },
        out,
        (s) => io.stderr.write(s),
      );
    if (sub === 'stats') {
      const s = await auditStats(readAudit(path, q, { onBadLine }));
      await out(v.json ? `${printableJson(JSON.stringify(s, null, 2))}\n` : renderStats(s));
    } else {
      const records = v.follow
        ? followAudit(path, q, { onBadLine, ...(io.signal ? { signal: io.signal } : {}) })
        : readAudit(path, q, { onBadLine });
      const table = v.json ? undefined : new Table(io.isTTY, v.follow === true);
      for await (const r of records) {
        if (table) {
          const text = table.push(r);
          if (text) await out(text);
        } else await out(`${printableJson(JSON.stringify(r))}\n`);
      }
      if (table) await out(table.end());
    }
  } catch (err) {
    io.stderr.write(`tollgate audit: ${(err as Error).message}\n`);
    return 1;
  }
  if (bad > 0) io.stderr.write(`warning: skipped ${bad} line(s) that are not JSON records\n`);
  return 0;
}

/**
 * Where the records are when no FILE|DIR is given, as the running gateway would find them: the
 * config's audit.postgres (the fleet) when set, else its audit.file; without a config, the default path.
 */
async function configuredSource(
  configFlag: string | undefined,
  io: AuditIo,
): Promise<{ pg: PgSource } | { path: string }> {
  const configPath =
    configFlag ?? (io.defaultPath === undefined && io.defaultConfig?.exists ? io.defaultConfig.path : undefined);
  if (configPath === undefined) return { path: io.defaultPath ?? DEFAULT_AUDIT_PATH };
  const { loadConfigFile } = await import('../config/load.js');
  const { audit } = loadConfigFile(configPath, io.env ?? {}).config;
  if (audit.postgres) return { pg: { url: audit.postgres.url, table: audit.postgres.table } };
  if (!audit.file) throw new Error(`${configPath} writes no audit file (audit.file: null)`);
  return { path: audit.file };
}

function usage(io: AuditIo, message: string): number {
  io.stderr.write(`tollgate audit: ${message}\n\n${AUDIT_HELP}`);
  return 2;
}

async function write(stream: NodeJS.WritableStream, s: string): Promise<void> {
  if (!stream.write(s)) await once(stream, 'drain');
}

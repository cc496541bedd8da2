// `tollgate audit …`: read, summarize and verify the audit log.
import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { followAudit, parseTimeSpec, readAudit, type AuditQuery } from '../audit/query.js';
import { auditStats } from '../audit/stats.js';
import { verifyAudit } from '../audit/verify.js';
import { Table, renderStats } from './audit-format.js';
import { loadConfigFile } from '../config/load.js';

export const DEFAULT_AUDIT_PATH = './tollgate-audit.jsonl';

export const AUDIT_HELP = `Usage:
  tollgate audit [FILE|DIR] [filters] [--follow] [--json]   list records (oldest first)
  tollgate audit stats [FILE|DIR] [filters] [--json]        counts, tokens, latency per agent/tool/decision
  tollgate audit verify [FILE|DIR] [--partial]              check the hash chain; exit 1 if broken

Without FILE|DIR: the audit.file of --config, else $TOLLGATE_AUDIT_FILE, else the audit.file of
$TOLLGATE_CONFIG or ./tollgate.yaml when it exists, else ./tollgate-audit.jsonl.

Options:
  -c, --config PATH  gateway config whose audit.file to read

Filters:
  --agent A          agent id
  --tool GLOB        tool, prompt or resource name (namespaced or native); * and ? wildcards
  --server S         upstream server
  --decision D       allowed, denied, rate_limited, budget_exceeded, error, approval_* (globs; comma-separated for several)
  --since T          30m, 1h, 2d (ago) or an ISO date
  --until T          same forms; exclusive
  --limit N          only the last N matching records
  -f, --follow       keep printing records as they are written (across rotation)
  --json             JSON Lines (stats: one JSON object)
  --partial          verify: older files were removed on purpose; do not require the chain's genesis
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
        decision: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        limit: { type: 'string' },
        follow: { type: 'boolean', short: 'f' },
        json: { type: 'boolean' },
        partial: { type: 'boolean' },
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
  let path: string;
  try {
    path = rest[0] ?? auditPathOf(v.config, io);
  } catch (err) {
    io.stderr.write(`tollgate audit: ${(err as Error).message}\n`);
    return 1;
  }
  const filtered = ['agent', 'tool', 'server', 'decision', 'since', 'until', 'limit'].some(
    (k) => v[k as keyof typeof v] !== undefined,
  );
  if (sub === 'verify' && (filtered || v.follow || v.json))
    return usage(io, 'verify takes no filters, --follow or --json');
  if (sub === 'stats' && v.follow) return usage(io, 'stats does not follow');
  if (sub !== 'verify' && v.partial) return usage(io, '--partial is for verify');

  const q: AuditQuery = {};
  try {
    const now = (io.now ?? Date.now)();
    if (v.agent !== undefined) q.agent = v.agent;
    if (v.tool !== undefined) q.tool = v.tool;
    if (v.server !== undefined) q.server = v.server;
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

  if (!(await stat(path).catch(() => undefined))) {
    io.stderr.write(`tollgate audit: no audit log at ${path}\n`);
    return 1;
  }
  let bad = 0;
  const onBadLine = () => void bad++;
  const out = (s: string) => write(io.stdout, s);
  try {
    if (sub === 'verify') {
      const r = await verifyAudit(path, { requireGenesis: !v.partial });
      if (r.incompleteTail)
        io.stderr.write(
          `note: ${r.incompleteTail.file}:${r.incompleteTail.line} is an incomplete last line (a write cut short by a crash, never acknowledged)\n`,
        );
      if (!r.ok && r.firstBroken) {
        await out(`BROKEN at ${r.firstBroken.file}:${r.firstBroken.line}: ${r.firstBroken.reason}\n`);
        return 1;
      }
      await out(`OK: ${r.records} records in ${r.files} files, chain intact\n`);
      return 0;
    }
    if (sub === 'stats') {
      const s = await auditStats(readAudit(path, q, { onBadLine }));
      await out(v.json ? `${JSON.stringify(s, null, 2)}\n` : renderStats(s));
    } else {
      const records = v.follow
        ? followAudit(path, q, { onBadLine, ...(io.signal ? { signal: io.signal } : {}) })
        : readAudit(path, q, { onBadLine });
      const table = v.json ? undefined : new Table(io.isTTY, v.follow === true);
      for await (const r of records) {
        if (table) {
          const text = table.push(r);
          if (text) await out(text);
        } else await out(`${JSON.stringify(r)}\n`);
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

/** The audit file the gateway writes, as the running gateway would find it. */
function auditPathOf(configFlag: string | undefined, io: AuditIo): string {
  const configPath =
    configFlag ?? (io.defaultPath === undefined && io.defaultConfig?.exists ? io.defaultConfig.path : undefined);
  if (configPath === undefined) return io.defaultPath ?? DEFAULT_AUDIT_PATH;
  const { config } = loadConfigFile(configPath, io.env ?? {});
  if (!config.audit.file) throw new Error(`${configPath} writes no audit file (audit.file: null)`);
  return config.audit.file;
}

function usage(io: AuditIo, message: string): number {
  io.stderr.write(`tollgate audit: ${message}\n\n${AUDIT_HELP}`);
  return 2;
}

async function write(stream: NodeJS.WritableStream, s: string): Promise<void> {
  if (!stream.write(s)) await once(stream, 'drain');
}

// `tollgate pins list|diff|approve`: the operator's side of tool pinning. Works on the pin file
// alone (the gateway writes each changed definition into its `pending` section), so it needs no
// running gateway; a running one applies approvals when it sees the file change.
import { parseArgs } from 'node:util';
import { approve, parseSelector, pendingList, pinOf, type PinBook, type Selector } from '../pins/book.js';
import { definitionDiff } from '../pins/diff.js';
import { injectionMarkers } from '../pins/markers.js';
import pino from 'pino';
import { FilePinBackend } from '../pins/file-backend.js';
import type { PinBackend } from '../pins/store.js';
import { printable as p, printableJson } from './terminal-text.js';

export const PINS_HELP = `Usage:
  tollgate pins list [--json]                      pinned tools and changes waiting for approval
  tollgate pins diff [SERVER[/TOOL]]               old vs new definition of each pending change
  tollgate pins approve SERVER[/TOOL]… | --all     make pending definitions the pins

Options:
  -c, --config PATH   gateway config (default ./tollgate.yaml; env TOLLGATE_CONFIG): finds the pin file
                      (or, with pins.store: redis, the pins in Redis; running gateways apply approvals at once)
      --file PATH     the pin file itself (instead of --config)
      --json          list: one JSON object
      --all           approve: every pending change
`;

export interface PinsIo {
  out: (s: string) => void;
  err: (s: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  /** --config when not given. */
  defaultConfig: string;
}

export async function pinsCommand(argv: string[], io: PinsIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string', short: 'c' },
        file: { type: 'string' },
        json: { type: 'boolean' },
        all: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return usage(io, (err as Error).message);
  }
  const { values: v, positionals } = parsed;
  const [sub, ...targets] = positionals;
  if (v.help) return (io.out(PINS_HELP), 0);
  if (sub !== 'list' && sub !== 'diff' && sub !== 'approve')
    return usage(io, sub ? `unknown subcommand ${sub}` : 'a subcommand is required');
  if (sub === 'approve' && (v.all ? targets.length > 0 : targets.length === 0))
    return usage(io, 'approve takes SERVER[/TOOL]… or --all');
  if (sub !== 'approve' && v.all) return usage(io, '--all is for approve');
  if (sub === 'list' && targets.length > 0) return usage(io, 'list takes no arguments');
  if (sub === 'diff' && targets.length > 1) return usage(io, 'diff takes at most one SERVER[/TOOL]');

  let backend: PinBackend | undefined;
  let book: PinBook;
  try {
    backend = v.file ? new FilePinBackend(v.file, fileOpts) : await pinBackendOf(v.config ?? io.defaultConfig, io.env);
    book = await backend.load();
  } catch (err) {
    await backend?.close();
    const where = backend?.source === 'pin store' ? `${backend.where}: ` : ''; // a file's errors name it already
    io.err(`tollgate pins: ${where}${(err as Error).message}`);
    return 1;
  }
  try {
    if (sub === 'list') return list(book, backend.where, v.json === true, io);
    if (sub === 'diff') return diff(book, targets[0] === undefined ? {} : parseSelector(targets[0]), io);
    return await approveCommand(book, backend, v.all ? [{}] : targets.map(parseSelector), io);
  } finally {
    await backend.close();
  }
}

const fileOpts = { watch: false, log: pino({ level: 'silent' }) };

/** The pin store the config names. Its loader (zod, yaml) and the Redis client are imported only here: `--file` needs neither. */
async function pinBackendOf(
  configPath: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<PinBackend> {
  const [{ loadConfigFile }, { ConfigError }] = await Promise.all([
    import('../config/load.js'),
    import('../config/yaml.js'),
  ]);
  const { config } = loadConfigFile(configPath, env);
  if (!config.pins) throw new ConfigError(configPath, ['pinning is off in this config (pins.enabled: false)']);
  if (config.pins.store !== 'redis') return new FilePinBackend(config.pins.file, fileOpts);
  const { redisPinBackend } = await import('../pins/open.js');
  return redisPinBackend(config.limits.redis, fileOpts.log, false);
}

function usage(io: PinsIo, message: string): number {
  io.err(`tollgate pins: ${message}\n\n${PINS_HELP}`);
  return 2;
}

const short = (sha: string | undefined): string => (sha ? sha.slice(0, 12) : '-');

function list(book: PinBook, file: string, json: boolean, io: PinsIo): number {
  const rows: {
    server: string;
    tool: string;
    status: string;
    pinned: string | undefined;
    pending: string | undefined;
    since: string;
  }[] = [];
  for (const [server, row] of book.pins) {
    for (const [tool, pin] of row) {
      const pending = book.pending.get(server)?.get(tool);
      rows.push({
        server,
        tool,
        status: pending ? 'changed' : 'pinned',
        pinned: pin.sha256,
        pending: pending?.sha256,
        since: pending?.seenAt ?? pin.pinnedAt ?? '',
      });
    }
  }
  for (const { server, tool, change } of pendingList(book)) {
    if (!pinOf(book, server, tool))
      rows.push({ server, tool, status: 'new', pinned: undefined, pending: change.sha256, since: change.seenAt });
  }
  rows.sort((a, b) => (`${a.server}\0${a.tool}` < `${b.server}\0${b.tool}` ? -1 : 1));
  if (json) {
    io.out(printableJson(JSON.stringify({ file, tools: rows }, null, 2)));
    return 0;
  }
  if (rows.length === 0) {
    io.out(`${file}: no pins yet (the gateway pins each tool the first time it sees it)`);
    return 0;
  }
  const table = [
    ['SERVER', 'TOOL', 'STATUS', 'PINNED', 'PENDING', 'SINCE'],
    // Server and tool names come from the upstream: shown with their control characters escaped.
    ...rows.map((r) => [p(r.server), p(r.tool), r.status, short(r.pinned), short(r.pending), p(r.since)]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  for (const r of table) io.out(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
  const waiting = rows.filter((r) => r.status !== 'pinned').length;
  if (waiting > 0)
    io.out(
      `\n${waiting} change${waiting === 1 ? '' : 's'} waiting: tollgate pins diff, then tollgate pins approve SERVER/TOOL`,
    );
  return 0;
}

function diff(book: PinBook, sel: Selector, io: PinsIo): number {
  const pending = pendingList(book, sel);
  if (pending.length === 0) {
    io.out('no pending changes');
    return 0;
  }
  for (const { server, tool, change } of pending) {
    const pin = pinOf(book, server, tool);
    // Everything below but our own words is the upstream's: printed inert, so no control sequence in
    // a name or description can erase or fake a line (the injection warning above all).
    const name = `${p(server)}/${p(tool)}`;
    io.out(
      `${name}: ${pin ? `definition changed (pinned ${short(pin.sha256)}, now ${short(change.sha256)})` : `new tool (${short(change.sha256)})`}, first seen ${p(change.seenAt)}`,
    );
    if (pin && !pin.definition) io.out(`  (the pin holds only the hash; the whole new definition follows)`);
    io.out(`--- pinned\n+++ current`);
    for (const l of definitionDiff(pin?.definition, change.definition)) io.out(`${l.op} ${p(l.text)}`);
    for (const m of injectionMarkers(change.definition))
      io.out(`warning: possible prompt injection in ${p(m.path)}: ${m.kind}: ${p(m.excerpt)}`);
    io.out(`approve with: tollgate pins approve ${name}\n`);
  }
  return 0;
}

async function approveCommand(book: PinBook, backend: PinBackend, selectors: Selector[], io: PinsIo): Promise<number> {
  const now = new Date().toISOString();
  let next = book;
  let missing = 0;
  for (const sel of selectors) {
    const r = approve(next, sel, now);
    if (r.approved.length === 0) {
      missing++;
      io.err(
        sel.server === undefined
          ? 'no pending changes'
          : `no pending change for ${p(sel.server)}${sel.tool === undefined ? '' : `/${p(sel.tool)}`}`,
      );
    }
    for (const a of r.approved)
      io.out(`approved ${p(a.server)}/${p(a.tool)} (${short(a.pinnedSha256 ?? undefined)} → ${short(a.sha256)})`);
    next = r.book;
  }
  if (next !== book) {
    // Applied to the pins as they are now (the gateway may have saved since we read them).
    try {
      await backend.save([(b) => selectors.reduce((acc, sel) => approve(acc, sel, now).book, b)]);
    } catch (err) {
      io.err(`tollgate pins: cannot save to ${backend.where}: ${(err as Error).message}`);
      return 1;
    }
    io.out(
      backend.source === 'pin store'
        ? `saved in ${backend.where}; running gateways apply it at once`
        : `wrote ${backend.where}; a running gateway applies it when it sees the file change (or on SIGHUP)`,
    );
  }
  return missing > 0 ? 1 : 0;
}

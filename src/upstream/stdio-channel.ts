// An MCP server as a child process speaking newline-delimited JSON-RPC on stdin/stdout.
// stderr goes to the log, line by line. The process is killed with the channel, and with the gateway.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Logger } from 'pino';
import { validateMessage, type JsonRpcMessage } from '../mcp/jsonrpc.js';
import { UPSTREAM_JSON, parseBounded } from '../mcp/json-shape.js';
import { ChannelError, type Channel, type ChannelEvents } from './channel.js';
import { LineSplitter, headFacts } from './line-splitter.js';
import { quoteWithout, scrubbingEchoes, sentSecrets, textWithout } from './sent-secrets.js';
import type { StdioUpstreamConfig } from '../config/runtime.js';

/** A log line is for people: longer stderr lines are skipped (counted in the log), not kept. */
const STDERR_LINE_BYTES = 8 * 1024;

const live = new Set<ChildProcessWithoutNullStreams>();
let exitHookInstalled = false;

/** Upstream server processes running in this gateway process (a metric). */
export const liveProcesses = (): number => live.size;

/** Children must not outlive the gateway, even when it exits without a graceful shutdown. */
function killAllOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/**
 * What an upstream process inherits from the gateway's environment: what programs need to run,
 * never the gateway's own secrets (admin and metrics tokens, agent keys, API keys). Anything else
 * an upstream needs goes in its `env:` in the config.
 */
const INHERITED =
  /^(PATH|HOME|USER|LOGNAME|SHELL|TERM|LANG|LC_[A-Z]+|TZ|TMPDIR|TEMP|TMP|NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR|SYSTEMROOT|APPDATA|PATHEXT|COMSPEC)$/;

export function inheritedEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && INHERITED.test(k)) out[k] = v;
  return out;
}

export class StdioChannel implements Channel {
  private child: ChildProcessWithoutNullStreams | undefined;
  private closing = false;
  readonly describe: string;
  /**
   * The values of the process's `env:` (an API token, a user's secret) long enough to be secrets: a
   * server may quote them in an error or a log line, which the gateway repeats to agents, the audit
   * record, /readyz and `tollgate check`, and in its own log. The inherited PATH, HOME… are no secrets.
   */
  private readonly secrets: readonly string[];
  /**
   * Messages sent in one turn of the event loop go to the process in one write. A write to the
   * child's stdin is a system call that wakes the child: measured under 32 concurrent calls, one
   * write per message was 31% of the gateway's busy time (and the server read one message per
   * read). Flushed after the turn's I/O callbacks (setImmediate), so a message waits for no timer.
   */
  private readonly outgoing: string[] = [];
  private readonly flush = (): void => {
    if (this.outgoing.length === 0) return;
    const child = this.child;
    const lines = this.outgoing.length === 1 ? `${this.outgoing[0]}\n` : `${this.outgoing.join('\n')}\n`;
    this.outgoing.length = 0;
    if (child && child.exitCode === null && child.stdin.writable) child.stdin.write(lines);
  };

  constructor(
    private readonly cfg: StdioUpstreamConfig,
    private readonly baseEnv: Readonly<Record<string, string | undefined>>,
    private readonly log: Logger,
  ) {
    this.describe = `stdio:${cfg.command}`;
    this.secrets = sentSecrets([cfg.env], undefined, cfg.argSecrets);
  }

  open(given: ChannelEvents): Promise<void> {
    killAllOnExit();
    const secrets = this.secrets;
    const events = secrets.length > 0 ? scrubbingEchoes(given, () => secrets) : given;
    return new Promise((resolve, reject) => {
      let child: ChildProcessWithoutNullStreams;
      try {
        child = spawn(this.cfg.command, [...this.cfg.args], {
          cwd: this.cfg.cwd,
          env: { ...inheritedEnv(this.baseEnv), ...this.cfg.env } as NodeJS.ProcessEnv,
          stdio: ['pipe', 'pipe', 'pipe'],
        });
      } catch (err) {
        reject(new ChannelError(`cannot start ${this.cfg.command}: ${(err as Error).message}`));
        return;
      }
      // The error listener before anything else: a spawn that fails for want of file descriptors
      // (EMFILE) emits 'error' on the next tick and has no stdio at all. Unheard, that event would
      // end the gateway; heard, it is an upstream that failed to start (retried with backoff).
      child.on('error', (err) => {
        live.delete(child);
        reject(new ChannelError(`cannot start ${this.cfg.command}: ${err.message}`));
        events.closed(`spawn failed: ${err.message}`);
      });
      if (!child.stdin || !child.stdout || !child.stderr) return; // the 'error' above says why
      this.child = child;
      live.add(child);
      const max = this.cfg.maxResponseBytes;
      const stdoutLines = new LineSplitter(max, {
        line: (line) => this.deliver(line, events),
        cut: ({ bytes, id, response, final }) => {
          const reason = `upstream message exceeds ${max} bytes (upstreams.${this.cfg.name}.max_response_bytes)`;
          if (final) this.log.warn({ bytes, id }, `${reason}; skipped, the process carries on`);
          events.discarded?.(reason, id, response);
        },
      });
      child.stdout.on('data', (chunk: Buffer) => stdoutLines.push(chunk));
      const stderrLines = new LineSplitter(STDERR_LINE_BYTES, {
        line: (l) => this.log.info({ stderr: textWithout(l, this.secrets) }, 'upstream stderr'),
        cut: ({ bytes, final }) => {
          if (final) this.log.info({ bytes }, `upstream stderr line over ${STDERR_LINE_BYTES} bytes; skipped`);
        },
      });
      child.stderr.on('data', (chunk: Buffer) => stderrLines.push(chunk));
      child.once('spawn', () => resolve());
      child.once('exit', (code, signal) => {
        live.delete(child);
        if (!this.closing) events.closed(`process exited (code ${code ?? 'none'}, signal ${signal ?? 'none'})`);
      });
      child.stdin.on('error', () => {
        /* EPIPE after the child died: reported through 'exit' */
      });
    });
  }

  private deliver(line: string, events: ChannelEvents): void {
    const parsed = parseBounded(line, UPSTREAM_JSON);
    if ('invalid' in parsed) {
      this.log.warn({ line: quoteWithout(line, 200, this.secrets) }, 'upstream wrote a non-JSON line; ignored');
      return;
    }
    if ('shape' in parsed) {
      // Too deep or too many keys to parse safely: its call fails now rather than at its deadline.
      const reason = `upstream message refused: ${parsed.shape}`;
      this.log.warn({ reason }, 'upstream wrote a message over the JSON shape limits; skipped');
      const { id, response } = headFacts(Buffer.from(line.slice(0, 64 * 1024)));
      events.discarded?.(reason, id, response);
      return;
    }
    const msg = validateMessage(parsed.value);
    if (typeof msg === 'string') {
      this.log.warn({ reason: msg }, 'upstream wrote an invalid JSON-RPC message; ignored');
      return;
    }
    events.message(msg, undefined);
  }

  send(msg: JsonRpcMessage): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || !child.stdin.writable) {
      return Promise.reject(new ChannelError('upstream process is not running', true));
    }
    this.outgoing.push(JSON.stringify(msg));
    if (this.outgoing.length === 1) setImmediate(this.flush);
    return Promise.resolve();
  }

  initialized(): void {}

  async close(): Promise<void> {
    const child = this.child;
    this.closing = true;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => child.kill('SIGKILL'), 2000);
      force.unref();
      child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      this.flush();
      child.stdin.end();
      child.kill('SIGTERM');
    });
  }
}

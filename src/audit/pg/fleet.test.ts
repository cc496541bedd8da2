// PostgreSQL unreachable is an operator's condition, not a bug: the gateway's log says so in one line
// (the driver's message), without the driver's stack trace in every warning.
import { Writable } from 'node:stream';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../config/load.js';
import { openConfiguredAudit } from '../open.js';
import { tempDir } from '../../../test/helpers/tmp.js';
import { waitUntil } from '../../../test/helpers/wait.js';

describe('audit fleet: PostgreSQL unreachable', () => {
  it('is logged with the reason alone, no stack trace', async () => {
    const dir = tempDir('pg-down-log-');
    const { config } = parseConfigText(
      // Port 1 on loopback: refused at once (no database needed for this test).
      `upstreams: { a: { transport: streamable_http, url: "http://127.0.0.1:1/mcp" } }
auth: { allow_anonymous: true }
audit: { file: audit.jsonl, postgres: { url: "postgres://nobody@127.0.0.1:1/none" } }
`,
      join(dir, 'tollgate.yaml'),
      {},
    );
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const audit = await openConfiguredAudit(config, pino({ level: 'warn' }, sink));
    try {
      await waitUntil(() => lines.some((l) => String(l.msg).startsWith('audit PostgreSQL unreachable:')));
      const down = lines.find((l) => String(l.msg).startsWith('audit PostgreSQL unreachable:'));
      expect(down?.err).toMatch(/ECONNREFUSED/);
      expect(JSON.stringify(lines)).not.toMatch(/"stack"|\\n\s+at /);
    } finally {
      await audit.writer?.close();
      await audit.close();
    }
  });
});

// audit.postgres and audit.retention as the config loader takes them: hostile or mistaken values are
// refused when the config is read (a table name is never SQL), good ones become frozen runtime values.
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../config/load.js';
import { globToLike, whereOf } from './where.js';
import { cleanText, rowOf } from './row.js';

const base = `upstreams:\n  a: { transport: streamable_http, url: "http://127.0.0.1:1/mcp" }\n`;
const load = (audit: string) => parseConfigText(`${base}audit:\n${audit}`, '/tmp/x/tollgate.yaml', {});

describe('audit.postgres config', () => {
  it('takes url, table, batch, mode and retention; defaults spool mode and table tollgate_audit', () => {
    const { config } = load(
      `  file: a.jsonl\n  postgres: { url: "postgres://u@db/x" }\n  retention: 90d\n  retention_files: 30\n`,
    );
    expect(config.audit.postgres).toEqual({
      url: 'postgres://u@db/x',
      table: 'tollgate_audit',
      batch: 500,
      mode: 'spool',
      chainId: undefined,
    });
    expect(config.audit.retentionMs).toBe(90 * 86_400_000);
    expect(config.audit.retentionFiles).toBe(30);
    expect(Object.isFrozen(config.audit.postgres)).toBe(true);
  });

  it.each([
    ['a table name that is SQL', `  postgres: { url: "postgres://db/x", table: "t; DROP TABLE users" }\n`],
    ['a quoted table name', `  postgres: { url: "postgres://db/x", table: 'a"b' }\n`],
    ['a URL of another scheme', `  postgres: { url: "mysql://db/x" }\n`],
    ['a batch beyond the limit', `  postgres: { url: "postgres://db/x", batch: 100000 }\n`],
    ['an unknown mode', `  postgres: { url: "postgres://db/x", mode: fail_open }\n`],
    ['no spool (audit.file null)', `  file: null\n  postgres: { url: "postgres://db/x" }\n`],
    ['no spool (stdout)', `  stdout: true\n  postgres: { url: "postgres://db/x" }\n`],
    ['a retention without unit', `  retention: "90"\n`],
  ])('refuses %s', (_name, audit) => {
    expect(() => load(audit)).toThrow();
  });
});

describe('filters as SQL', () => {
  it('keeps every value a parameter, and LIKE wildcards in a glob literal', () => {
    const w = whereOf({ agent: "x' OR 1=1 --", tool: 'a%b_c*', decision: ['denied'], instance: 'i' });
    expect(w.sql).not.toContain("x'");
    expect(w.params).toEqual(["x' OR 1=1 --", 'i', ['denied'], 'a\\%b\\_c%']);
    expect(globToLike('\\?')).toBe('\\\\_');
  });

  it('cleans values PostgreSQL cannot hold in the columns, never in the line', () => {
    expect(cleanText('a\u0000b\uD800')).toBe('a\uFFFDb\uFFFD');
    expect(cleanText('ok \uD83D\uDE00')).toBe('ok \uD83D\uDE00'); // a real pair stays
    const line = JSON.stringify({ 'gen_ai.agent.id': 'a\u0000', 'tollgate.request.arguments': { k: '\u0000' } });
    const row = rowOf(line, 0);
    expect(row.line).toBe(line);
    expect(row.agent).toBe('a\uFFFD');
    expect(row.arguments).toBe('{"k":"\uFFFD"}');
    expect(row.record_id).toMatch(/^line:[0-9a-f]{64}$/); // no id of its own: its hash
  });
});

// The CLI's output read by a program that stops early (`tollgate audit | head`, quitting `less`):
// the closed pipe ends the command quietly, as SIGPIPE ends `cat` or `git log`, with no stack trace
// and no error line on the terminal the operator is looking at.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeArgs } from '../helpers/compiled.js';
import { removeTempDirs, tempDir } from '../helpers/tmp.js';

afterAll(() => removeTempDirs());

/** Runs `tollgate …` and closes its stdout after the first chunk, as `head -c 1` does. */
async function readFirstChunkOnly(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [...nodeArgs('bin/tollgate.mjs'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.once('data', () => child.stdout.destroy());
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stderr };
}

describe.concurrent('tollgate output into a pipe closed early', () => {
  it('audit --json ends quietly (exit 141), no "write EPIPE" line', async () => {
    const dir = tempDir('tollgate-pipe-');
    const file = join(dir, 'audit.jsonl');
    // Far more than a pipe buffer holds, so the command is still writing when the reader leaves.
    const lines: string[] = [];
    for (let i = 0; i < 5000; i++)
      lines.push(
        JSON.stringify({
          timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
          'gen_ai.agent.id': 'a',
          'mcp.method.name': 'tools/call',
          'gen_ai.tool.name': `s__tool_${i}`,
          'tollgate.decision': 'allowed',
          'tollgate.outcome': 'ok',
          'tollgate.request.arguments': { text: 'x'.repeat(200) },
        }),
      );
    writeFileSync(file, `${lines.join('\n')}\n`);
    const r = await readFirstChunkOnly(['audit', file, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(141);
  }, 60_000);

  it('pins list ends quietly (exit 141), no unhandled error with a stack', async () => {
    const dir = tempDir('tollgate-pipe-');
    const file = join(dir, 'tool-pins.json');
    const tools: Record<string, unknown> = {};
    for (let i = 0; i < 5000; i++)
      tools[`tool_${i}`] = {
        sha256: 'a'.repeat(64),
        pinned_at: '2026-01-01T00:00:00.000Z',
        definition: { description: 'd', inputSchema: { type: 'object' } },
      };
    writeFileSync(file, JSON.stringify({ version: 1, tools: { srv: tools } }));
    const r = await readFirstChunkOnly(['pins', 'list', '--file', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(141);
  }, 60_000);
});

import { describe, expect, it } from 'vitest';
import type { Approval } from './store.js';
import { webhookBody } from './webhook.js';

const approval = (args: Approval['args']): Approval => ({
  id: 'apr_0123456789abcdef',
  agent: 'agent-1',
  tool: 'shell__run',
  server: 'shell',
  description: null,
  args,
  sha256: '0'.repeat(64),
  rule: 'approvals[0] in agent-1.yaml',
  message: null,
  approvers: [],
  holder: 'gw-1',
  requestedAt: 0,
  expiresAt: 60_000,
  status: 'pending',
});

describe('webhook notice (slack)', () => {
  it("keeps the agent's arguments inert: no link, mention or end of the code span of their own", () => {
    // The agent writes the arguments: a fake "decide here" link to a page of its own, a ping of the
    // whole channel, and a backtick that would end the code span and let the rest render as mrkdwn.
    const hostile = 'x` <https://evil.example/approve|Decide on the admin page> <!channel> *urgent* `';
    const { text } = webhookBody(approval({ cmd: hostile }), 'https://gw.example/admin/#approval-x', 'slack') as {
      text: string;
    };
    const argsLine = text.split('\n').find((l) => l.startsWith('Arguments:')) ?? '';
    // One code span, and no Slack control sequence (`<…>`) inside it.
    expect(argsLine.match(/`/g)).toHaveLength(2);
    expect(argsLine).not.toMatch(/[<>]/);
    expect(argsLine).toContain('&lt;https://evil.example/approve|Decide on the admin page&gt;');
    // The gateway's own link is still a link.
    expect(text).toContain('<https://gw.example/admin/#approval-x|Decide on the admin page>');
  });

  it("keeps the upstream's tool name and the agent id on their line: no line of their own in the notice", () => {
    // A newline ends Slack's inline code: what follows renders as mrkdwn, bare URLs become links.
    const fake = '\n:white_check_mark: *Approved by admin#1*, nothing to do. Details: https://evil.example/decide\n';
    const a = { ...approval({ n: 1 }), tool: `shell__run${fake}`, agent: `agent-1\r${fake}` };
    const { text } = webhookBody(a, undefined, 'slack') as { text: string };
    const lines = text.split('\n');
    expect(lines).toHaveLength(3); // the request, the arguments, the expiry
    expect(lines[0]).toMatch(/^\*Approval needed\*: agent `[^`]*` wants to call `[^`]*`$/);
    expect(lines[0]).toContain('shell__run\\n:white_check_mark:');
    expect(text).not.toMatch(/[\r\u2028\u2029]/);
  });
});

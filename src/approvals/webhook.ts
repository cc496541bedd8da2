// A notice to a webhook for each approval asked of operators: JSON (the approval as the admin API
// lists it, plus a link to the admin page) or a body Slack incoming webhooks accept. Best effort:
// bounded by a timeout and by the approval's own life (a notice still in flight when the approval
// is decided is dropped, so notices in flight never outnumber held calls), failures logged, never
// holding the call.
import type { Logger } from 'pino';
import type { Approval } from './store.js';

export interface WebhookConfig {
  url: string;
  format: 'json' | 'slack';
  timeoutMs: number;
}

/**
 * Text from the agent or the upstream inside a Slack code span: Slack's own escapes for `&`, `<`,
 * `>` (else `<https://…|text>` is a link and `<!channel>` a ping), and no backtick or line break to
 * end the span (the rest would render as mrkdwn: a fake "decide here" link in the operators' channel).
 */
const inert = (s: string): string =>
  s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/`/g, '\u02cb')
    // A line break ends the code span too (an upstream's tool name, an agent id): spelled out.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what goes
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) =>
      c === '\n' ? '\\n' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );

export function webhookBody(a: Approval, link: string | undefined, format: WebhookConfig['format']): unknown {
  if (format === 'json') return { type: 'approval_requested', approval: a, ...(link ? { url: link } : {}) };
  const args = inert(JSON.stringify(a.args));
  const lines = [
    `*Approval needed*: agent \`${inert(a.agent)}\` wants to call \`${inert(a.tool)}\``,
    ...(a.message ? [a.message] : []),
    `Arguments: \`${args.length > 500 ? `${args.slice(0, 499)}…` : args}\``,
    `Expires ${new Date(a.expiresAt).toISOString()}${link ? ` · <${link}|Decide on the admin page>` : ''}`,
  ];
  return { text: lines.join('\n') };
}

/** Sends the notice; `decided` aborts it when the approval is decided before the webhook answered. */
export async function notifyWebhook(
  cfg: WebhookConfig,
  a: Approval,
  link: string | undefined,
  log: Logger,
  decided: AbortSignal,
): Promise<void> {
  if (decided.aborted) return;
  try {
    const res = await fetch(cfg.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(webhookBody(a, link, cfg.format)),
      signal: AbortSignal.any([AbortSignal.timeout(cfg.timeoutMs), decided]),
      redirect: 'error',
    });
    await res.body?.cancel();
    if (!res.ok) log.warn({ status: res.status, approval: a.id }, 'approvals: webhook refused the notice');
  } catch (err) {
    if (decided.aborted) log.debug({ approval: a.id }, 'approvals: webhook notice dropped, the approval is decided');
    else log.warn({ err: (err as Error).message, approval: a.id }, 'approvals: webhook notice failed');
  }
}

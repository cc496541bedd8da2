import { describe, expect, it } from 'vitest';
import { ChannelSecrets, SENT_HISTORY, messageWithout, quoteWithout, sentSecrets } from './sent-secrets.js';

describe('quoting an upstream answer without our credentials', () => {
  const secrets = sentSecrets(
    [{ authorization: 'Bearer tok-0123456789', 'x-tenant': 'eu' }],
    new URL('https://u:p4ssw0rd-long@up.example/mcp?api_key=key-abcdefgh&v=1'),
  );

  it('hides header values, the token after its scheme, query values and the URL password', () => {
    const q = quoteWithout(
      'sent Bearer tok-0123456789; again tok-0123456789 key-abcdefgh p4ssw0rd-long eu',
      200,
      secrets,
    );
    expect(q).toBe('sent [REDACTED]; again [REDACTED] [REDACTED] [REDACTED] eu');
  });

  it('leaves no start of a secret the cut at the limit would have kept', () => {
    const q = quoteWithout(`${'x'.repeat(195)}tok-0123456789`, 200, secrets);
    expect(q).toBe(`${'x'.repeat(195)}[REDA`);
  });
});

describe('messageWithout', () => {
  const secrets = sentSecrets([{ authorization: 'Bearer tok"en-0123456789' }]);

  it('cuts our credentials out of a JSON-RPC error, message and data, even JSON-escaped', () => {
    const said = 'You sent Bearer tok"en-0123456789 and tok"en-0123456789';
    const msg = { jsonrpc: '2.0' as const, id: 1, error: { code: -32000, message: said, data: { said } } };
    const out = messageWithout(msg, secrets);
    expect(out).toEqual({
      jsonrpc: '2.0',
      id: 1,
      error: {
        code: -32000,
        message: 'You sent [REDACTED] and [REDACTED]',
        data: { said: 'You sent [REDACTED] and [REDACTED]' },
      },
    });
    expect(msg.error.message).toBe(said); // the original is not changed
  });

  it('leaves results, and errors naming no credential, as they came', () => {
    const result = {
      jsonrpc: '2.0' as const,
      id: 1,
      result: { content: [{ type: 'text', text: 'tok"en-0123456789' }] },
    };
    expect(messageWithout(result, secrets)).toBe(result);
    const plain = { jsonrpc: '2.0' as const, id: 2, error: { code: -32000, message: 'no such thing' } };
    expect(messageWithout(plain, secrets)).toBe(plain);
  });
});

describe('notifications', () => {
  const secrets = sentSecrets([{ UP_TOKEN: 'env-token-0123456789', DEBUG: 'true' }]);

  it('cuts our credentials out of a log line and a progress message, keys included; short values stay', () => {
    const log = {
      jsonrpc: '2.0' as const,
      method: 'notifications/message',
      params: { level: 'info', data: { env: ['env-token-0123456789', 'true'], 'env-token-0123456789': 1 } },
    };
    expect(messageWithout(log, secrets)).toEqual({
      ...log,
      params: { level: 'info', data: { env: ['[REDACTED]', 'true'], '[REDACTED]': 1 } },
    });
    const progress = {
      jsonrpc: '2.0' as const,
      method: 'notifications/progress',
      params: { progressToken: 3, progress: 1, message: 'using env-token-0123456789' },
    };
    expect(messageWithout(progress, secrets)).toEqual({
      ...progress,
      params: { progressToken: 3, progress: 1, message: 'using [REDACTED]' },
    });
  });

  it('returns a notification naming no credential as it came, and leaves server requests alone', () => {
    const log = { jsonrpc: '2.0' as const, method: 'notifications/message', params: { level: 'info', data: ['ok'] } };
    expect(messageWithout(log, secrets)).toBe(log);
    const request = {
      jsonrpc: '2.0' as const,
      id: 4,
      method: 'sampling/createMessage',
      params: { x: 'env-token-0123456789' },
    };
    expect(messageWithout(request, secrets)).toBe(request);
  });
});

describe('a channel that sends a user token', () => {
  const bearer = (i: number) => ({ authorization: `Bearer user-token-${i}-abcdef` });

  it(`keeps the last ${SENT_HISTORY} distinct tokens scrubbable, and its fixed secrets`, () => {
    const secrets = new ChannelSecrets(['operator-secret-0123']);
    for (let i = 1; i <= SENT_HISTORY + 1; i++) secrets.remember(bearer(i));
    const all = secrets.all();
    expect(all).toContain('operator-secret-0123');
    for (let i = 2; i <= SENT_HISTORY + 1; i++) expect(all).toContain(`user-token-${i}-abcdef`);
    expect(all).not.toContain('user-token-1-abcdef'); // the oldest has gone
    // Longest first, so quoteWithout sees the longest secret first.
    expect([...all].sort((a, b) => b.length - a.length)).toEqual(all);
  });

  it('a token sent again is no new entry: it does not push an earlier one out', () => {
    const secrets = new ChannelSecrets([]);
    secrets.remember(bearer(1));
    for (let i = 0; i < 20; i++) secrets.remember(bearer(2));
    for (let i = 3; i <= SENT_HISTORY; i++) secrets.remember(bearer(i));
    secrets.remember(bearer(1)); // used again: the most recent now
    secrets.remember(bearer(SENT_HISTORY + 1)); // pushes out 2, the least recently sent
    expect(secrets.all()).toContain('user-token-1-abcdef');
    expect(secrets.all()).not.toContain('user-token-2-abcdef');
  });
});

describe('valueWithout', () => {
  it('keeps a "__proto__" key an own property when its value is scrubbed', () => {
    const v = JSON.parse('{"__proto__": {"said": "secret-value-0123"}}') as Record<string, unknown>;
    const out = messageWithout({ jsonrpc: '2.0', method: 'notifications/message', params: v }, ['secret-value-0123']);
    expect(JSON.stringify(out)).toBe(
      '{"jsonrpc":"2.0","method":"notifications/message","params":{"__proto__":{"said":"[REDACTED]"}}}',
    );
  });
});

import { describe, expect, it } from 'vitest';
import { errorWithout, quoteWithout, sentSecrets } from './sent-secrets.js';

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

describe('errorWithout', () => {
  const secrets = sentSecrets([{ authorization: 'Bearer tok"en-0123456789' }]);

  it('cuts our credentials out of a JSON-RPC error, message and data, even JSON-escaped', () => {
    const said = 'You sent Bearer tok"en-0123456789 and tok"en-0123456789';
    const msg = { jsonrpc: '2.0' as const, id: 1, error: { code: -32000, message: said, data: { said } } };
    const out = errorWithout(msg, secrets);
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
    expect(errorWithout(result, secrets)).toBe(result);
    const plain = { jsonrpc: '2.0' as const, id: 2, error: { code: -32000, message: 'no such thing' } };
    expect(errorWithout(plain, secrets)).toBe(plain);
  });
});

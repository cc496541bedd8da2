import { describe, expect, it } from 'vitest';
import { quoteWithout, sentSecrets } from './sent-secrets.js';

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

import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { resultDigest } from '../audit/record.js';
import { responseJson, resultJson } from './result-json.js';

describe('result JSON made once', () => {
  it('the answer embeds the very text the audit hashed, and reads as JSON.stringify would write it', () => {
    const result = { content: [{ type: 'text', text: 'héllo "quoted" \u2028' }], isError: false };
    const res = { jsonrpc: '2.0' as const, id: 'a"b', result };
    const digest = resultDigest(result);
    const body = responseJson(res);
    expect(body).toBe(JSON.stringify(res));
    const embedded = body.slice(body.indexOf('"result":') + '"result":'.length, -1);
    expect(createHash('sha256').update(embedded).digest('hex')).toBe(digest.sha256);
    expect(resultJson(result)).toBe(embedded);
  });

  it('serialises other responses as they are: errors, results not seen before, extra members', () => {
    const error = { jsonrpc: '2.0' as const, id: 1, error: { code: -32600, message: 'no' } };
    expect(responseJson(error)).toBe(JSON.stringify(error));
    const fresh = { jsonrpc: '2.0' as const, id: 2, result: { a: 1 } };
    expect(responseJson(fresh)).toBe(JSON.stringify(fresh));
    const result = { b: 2 };
    resultJson(result);
    const extra = { jsonrpc: '2.0' as const, id: 3, result, extra: true } as unknown as typeof fresh;
    expect(responseJson(extra)).toBe(JSON.stringify(extra));
  });
});

// A 2026 `subscriptions/listen` names resource URIs to hear updates of. They are judged as reads
// are, in normal form (src/policy/normalize.ts): a raw spelling that a glob admits but that names
// another resource once resolved (`pub/../secret`) must not be honoured, nor subscribed upstream.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { FEATURE_SERVER, nodeArgsYaml } from '../helpers/compiled.js';
import { tempDir } from '../helpers/tmp.js';

const V = '2026-07-28';
const KEY = 'alice-key-0123456789';
let gw: TestGateway;

beforeAll(async () => {
  const dir = tempDir('tollgate-listen-uris-');
  // alice may read what is under mem://a/pub/ only.
  writeFileSync(join(dir, 'alice.yaml'), 'agent: alice\nresources: { allow: ["feat+mem://a/pub/*"] }\n');
  gw = await startGateway(`
upstreams:
  feat: { transport: stdio, command: node, args: [${nodeArgsYaml(FEATURE_SERVER)}, --stdio] }
auth: { api_keys: [{ agent: alice, key: ${KEY} }] }
policies: { dir: ${dir} }
`);
});
afterAll(() => gw?.close());

/** Opens a listen stream and returns its acknowledgement (the first event), then closes it. */
async function acknowledged(resourceSubscriptions: string[]): Promise<Record<string, unknown>> {
  const ctl = new AbortController();
  const res = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    signal: ctl.signal,
    headers: {
      authorization: `Bearer ${KEY}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': V,
      'mcp-method': 'subscriptions/listen',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 'L',
      method: 'subscriptions/listen',
      params: {
        notifications: { resourceSubscriptions },
        _meta: { 'io.modelcontextprotocol/protocolVersion': V, 'io.modelcontextprotocol/clientCapabilities': {} },
      },
    }),
  });
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const line = text.split('\n').find((l) => l.startsWith('data: '));
    if (line) {
      ctl.abort();
      return (JSON.parse(line.slice(6)) as { params: { notifications: Record<string, unknown> } }).params.notifications;
    }
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended before its acknowledgement: ${text}`);
    text += decoder.decode(value, { stream: true });
  }
}

describe('subscriptions/listen resource URIs', () => {
  it('are judged in normal form: a dot-segment spelling of a denied URI is not honoured', async () => {
    const ack = await acknowledged([
      'feat+mem://a/pub/../secret',
      'feat+mem://a/pub/%2e%2e/secret',
      'feat+mem://a/pub/./x',
    ]);
    // Only the spelling that stays under pub/, in the normal form its updates will carry.
    expect(ack.resourceSubscriptions).toEqual(['feat+mem://a/pub/x']);
  });
});

import { describe, expect, it } from 'vitest';
import { audiencesFor, knownResource, type ResourceSpace } from './resources.js';

const space: ResourceSpace = { mcp: () => 'https://gw.example/mcp', servers: ['files'], llm: true };

describe('audiencesFor', () => {
  it('accepts the whole gateway and the one server a /mcp/<server> path names', () => {
    expect(audiencesFor(space, '/mcp')).toEqual(['https://gw.example/mcp']);
    expect(audiencesFor(space, '/mcp/files')).toEqual(['https://gw.example/mcp', 'https://gw.example/mcp/files']);
    expect(audiencesFor(space, '/v1/chat/completions')).toEqual(['https://gw.example/v1']);
  });

  it('does not throw on a path segment that is no valid percent-encoding (the route answers it)', () => {
    // Before: decodeURIComponent threw inside the authenticator, and the agent got a 500.
    expect(audiencesFor(space, '/mcp/%E0%A4%A')).toEqual(['https://gw.example/mcp', 'https://gw.example/mcp/%E0%A4%A']);
  });
});

describe('knownResource by another loopback name', () => {
  const listened: ResourceSpace = {
    mcp: () => 'http://127.0.0.1:8080/mcp',
    servers: ['files'],
    llm: false,
    loopbackAliases: true,
  };

  it('takes localhost and [::1] on the same port as the address listened on', () => {
    expect(knownResource(listened, 'http://localhost:8080/mcp')).toBe('http://127.0.0.1:8080/mcp');
    expect(knownResource(listened, 'http://[::1]:8080/mcp/files')).toBe('http://127.0.0.1:8080/mcp/files');
  });

  it('never another port, scheme or host, nor anything when the resource is configured', () => {
    expect(knownResource(listened, 'http://localhost:8081/mcp')).toBeUndefined();
    expect(knownResource(listened, 'https://localhost:8080/mcp')).toBeUndefined();
    expect(knownResource(listened, 'http://gw.example:8080/mcp')).toBeUndefined();
    expect(knownResource({ ...listened, loopbackAliases: false }, 'http://localhost:8080/mcp')).toBeUndefined();
  });
});

describe('knownResource for the legacy SSE endpoints', () => {
  it('takes <base>/sse (what their metadata names) as the /mcp resource, and no /sse/<server>', () => {
    expect(knownResource(space, 'https://gw.example/sse')).toBe('https://gw.example/mcp');
    expect(knownResource(space, 'https://gw.example/sse/files')).toBeUndefined();
    expect(knownResource(space, 'https://other.example/sse')).toBeUndefined();
  });
});

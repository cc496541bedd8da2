import { describe, expect, it } from 'vitest';
import { audiencesFor, type ResourceSpace } from './resources.js';

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

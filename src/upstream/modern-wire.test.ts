import { describe, expect, it } from 'vitest';
import { encodeHeaderValue, headerDeclarations, mirroredHeaders, withEnvelope } from './modern-wire.js';

describe('2026 request wire', () => {
  it('plain ASCII passes; non-ASCII, padded, empty and sentinel-looking values are base64-wrapped', () => {
    expect(encodeHeaderValue('eu-west-1')).toBe('eu-west-1');
    expect(encodeHeaderValue('Zürich')).toBe(`=?base64?${Buffer.from('Zürich').toString('base64')}?=`);
    expect(encodeHeaderValue(' x')).toMatch(/^=\?base64\?/);
    expect(encodeHeaderValue('')).toBe('=?base64??=');
    expect(encodeHeaderValue('=?base64?abc?=')).toMatch(/^=\?base64\?PT9iYXNlNjQ/);
  });

  it('finds x-mcp-header only along properties chains', () => {
    const schema = {
      type: 'object',
      properties: {
        region: { type: 'string', 'x-mcp-header': 'Region' },
        nested: { type: 'object', properties: { id: { type: 'integer', 'x-mcp-header': 'Id' } } },
        list: { type: 'array', items: { type: 'string', 'x-mcp-header': 'Nope' } },
      },
    };
    expect(headerDeclarations(schema)).toEqual([
      { header: 'Region', path: ['region'] },
      { header: 'Id', path: ['nested', 'id'] },
    ]);
  });

  it('mirrors method, name and declared arguments; absent arguments get no header', () => {
    const schema = {
      type: 'object',
      properties: {
        region: { type: 'string', 'x-mcp-header': 'Region' },
        on: { type: 'boolean', 'x-mcp-header': 'On' },
      },
    };
    const h = mirroredHeaders('tools/call', { name: 'größe', arguments: { region: 'eu', on: false } }, () => schema);
    expect(h).toEqual({
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': `=?base64?${Buffer.from('größe').toString('base64')}?=`,
      'mcp-param-region': 'eu',
      'mcp-param-on': 'false',
    });
    expect(mirroredHeaders('tools/call', { name: 't', arguments: {} }, () => schema)).not.toHaveProperty(
      'mcp-param-region',
    );
    expect(mirroredHeaders('resources/read', { uri: 'file:///a' }, () => undefined)['mcp-name']).toBe('file:///a');
  });

  it('the envelope keeps other _meta keys and carries the agent capabilities and log level', () => {
    const p = withEnvelope(
      { name: 't', _meta: { progressToken: 3 } },
      { name: 'tollgate', version: '1' },
      { capabilities: { elicitation: {} }, logLevel: 'info' },
    );
    expect(p._meta).toEqual({
      progressToken: 3,
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
      'io.modelcontextprotocol/clientInfo': { name: 'tollgate', version: '1' },
      'io.modelcontextprotocol/logLevel': 'info',
    });
  });
});

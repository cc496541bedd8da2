import { describe, expect, it } from 'vitest';
import { ChunkedDecoder } from './chunked.js';
import { MalformedResponse, parseHead } from './response-head.js';

const head = (...lines: string[]) => parseHead(lines.join('\r\n'));

describe('parseHead', () => {
  it('reads status, headers (repeated ones as a list), framing and keep-alive', () => {
    const h = head(
      'HTTP/1.1 200 OK',
      'Content-Type: application/json',
      'Content-Length: 12',
      'Set-Thing: a',
      'set-thing: b',
      'Keep-Alive: timeout=5',
    );
    expect(h).toMatchObject({
      status: 200,
      framing: { kind: 'length', bytes: 12 },
      keepAlive: true,
      idleMs: 5000,
      headers: { 'content-type': 'application/json', 'set-thing': ['a', 'b'] },
    });
    expect(head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked').framing).toEqual({ kind: 'chunked' });
    expect(head('HTTP/1.1 200 OK').framing).toEqual({ kind: 'close' });
    expect(head('HTTP/1.1 200 OK').keepAlive).toBe(false);
    expect(head('HTTP/1.1 204 No Content', 'Content-Length: 5').framing).toEqual({ kind: 'none' });
    expect(head('HTTP/1.1 200 OK', 'Content-Length: 1', 'Connection: close').keepAlive).toBe(false);
    expect(head('HTTP/1.0 200 OK', 'Content-Length: 1').keepAlive).toBe(false);
    expect(head('HTTP/1.1 200 OK', 'Content-Length: 7, 7').framing).toEqual({ kind: 'length', bytes: 7 });
  });

  it.each([
    ['a status line that is not HTTP/1.x', ['HTTP/2 200 OK']],
    ['a status code out of range', ['HTTP/1.1 099 Low']],
    [
      'Content-Length beside Transfer-Encoding (a smuggling shape)',
      ['HTTP/1.1 200 OK', 'Content-Length: 5', 'Transfer-Encoding: chunked'],
    ],
    ['Content-Length values that disagree', ['HTTP/1.1 200 OK', 'Content-Length: 5', 'Content-Length: 6']],
    ['a Content-Length that is not a number', ['HTTP/1.1 200 OK', 'Content-Length: +5']],
    ['a coding we did not ask for', ['HTTP/1.1 200 OK', 'Transfer-Encoding: gzip, chunked']],
    ['white space before the colon', ['HTTP/1.1 200 OK', 'Content-Length : 5']],
    ['an obsolete folded line', ['HTTP/1.1 200 OK', 'X-A: 1', ' folded']],
    ['a bare LF inside a line', ['HTTP/1.1 200 OK', 'X-A: 1\nContent-Length: 0']],
    ['a NUL in a value', ['HTTP/1.1 200 OK', 'X-A: a\0b']],
    ['a header line with no name', ['HTTP/1.1 200 OK', ': x']],
  ])('refuses %s', (_why, lines) => {
    expect(() => head(...lines)).toThrow(MalformedResponse);
  });

  it('reads header names that are also Object property names as headers like any other', () => {
    // An upstream names its headers: `__proto__` must not replace the object's prototype, nor
    // `constructor` come out as a list holding a function.
    const h = head('HTTP/1.1 200 OK', '__proto__: x', 'constructor: y', 'toString: z', 'Content-Length: 0');
    expect(h.headers.constructor).toBe('y');
    expect(h.headers.tostring).toBe('z');
    expect(Object.getOwnPropertyDescriptor(h.headers, '__proto__')?.value).toBe('x');
    expect(Array.isArray(Object.getPrototypeOf(h.headers))).toBe(false);
  });

  it('refuses a head with too many header lines', () => {
    const lines = ['HTTP/1.1 200 OK', ...Array.from({ length: 129 }, (_, i) => `X-${i}: 1`)];
    expect(() => head(...lines)).toThrow(/header lines/);
  });
});

describe('ChunkedDecoder', () => {
  const decode = (pieces: string[]) => {
    const d = new ChunkedDecoder();
    const out: string[] = [];
    let used = 0;
    for (const p of pieces) {
      used = d.feed(Buffer.from(p, 'latin1'), (b) => out.push(b.toString('latin1')));
      if (d.done) break;
    }
    return { body: out.join(''), done: d.done, used };
  };

  it('decodes chunks split anywhere, extensions and trailers included, and says where the body ended', () => {
    const wire = '5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\nEXTRA';
    for (let cut = 1; cut < wire.length; cut++) {
      const r = decode([wire.slice(0, cut), wire.slice(cut)]);
      expect(r.body).toBe('hello world');
      expect(r.done).toBe(true);
    }
    expect(decode([wire]).used).toBe(wire.length - 'EXTRA'.length);
    expect(decode(['5\r\nhel', 'lo\r\n']).done).toBe(false);
  });

  it.each([
    ['a size that is not hex', ['zz\r\n']],
    ['a size over 4 GiB', ['123456789\r\n']],
    ['data longer than its size', ['2\r\nabc\r\n']],
    ['a bare LF after the size', ['2\nab\r\n']],
    ['an endless size line', ['1'.repeat(5000)]],
    [
      'endless trailers',
      ['0\r\n', ...Array.from({ length: 400 }, () => 'X-T: 0123456789012345678901234567890123456789012345678901\r\n')],
    ],
  ])('refuses %s', (_why, pieces) => {
    expect(() => decode(pieces)).toThrow(MalformedResponse);
  });
});

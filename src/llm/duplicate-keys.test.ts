import { describe, expect, it } from 'vitest';
import { keysIn, scanBody } from './body-shape.js';

/** Whether the text names a key twice in one object, as the proxy finds out (scan, parse, walk). */
const namesKeyTwice = (text: string): boolean => keysIn(JSON.parse(text)) !== scanBody(text);

describe('duplicate keys', () => {
  it('finds a key named twice in one object, at any depth and in any spelling', () => {
    expect(namesKeyTwice('{"model":"a","model":"b"}')).toBe(true);
    expect(namesKeyTwice('{"model":"a","mod\\u0065l":"b"}')).toBe(true);
    expect(namesKeyTwice('{"m":[{"x":1},{"a":{"n":1,"n":2}}]}')).toBe(true);
    expect(namesKeyTwice(' { "a" : 1 , "b" : [ 1 , { } ] , "a" : 2 } ')).toBe(true);
    expect(namesKeyTwice('{"__proto__":1,"__proto__":2}')).toBe(true);
  });

  it('keeps apart keys of different objects, values, and quotes or brackets inside strings', () => {
    expect(namesKeyTwice('{"a":1,"b":{"a":1},"c":[{"a":1},{"a":2}]}')).toBe(false);
    expect(namesKeyTwice('{"a":"a","b":["a","a"]}')).toBe(false);
    expect(namesKeyTwice('{"a":"\\",\\"a\\":{[","b":"\\\\","c":1}')).toBe(false);
    expect(namesKeyTwice('[1,"x",{"k":1},{"k":2}]')).toBe(false);
    expect(namesKeyTwice('"just a string"')).toBe(false);
    expect(namesKeyTwice('{"__proto__":1,"constructor":2,"1":3,"01":4}')).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { hasDuplicateKeys } from './duplicate-keys.js';

describe('hasDuplicateKeys', () => {
  it('finds a key named twice in one object, at any depth and in any spelling', () => {
    expect(hasDuplicateKeys('{"model":"a","model":"b"}')).toBe(true);
    expect(hasDuplicateKeys('{"model":"a","mod\\u0065l":"b"}')).toBe(true);
    expect(hasDuplicateKeys('{"m":[{"x":1},{"a":{"n":1,"n":2}}]}')).toBe(true);
    expect(hasDuplicateKeys(' { "a" : 1 , "b" : [ 1 , { } ] , "a" : 2 } ')).toBe(true);
  });

  it('keeps apart keys of different objects, values, and quotes or brackets inside strings', () => {
    expect(hasDuplicateKeys('{"a":1,"b":{"a":1},"c":[{"a":1},{"a":2}]}')).toBe(false);
    expect(hasDuplicateKeys('{"a":"a","b":["a","a"]}')).toBe(false);
    expect(hasDuplicateKeys('{"a":"\\",\\"a\\":{[","b":"\\\\","c":1}')).toBe(false);
    expect(hasDuplicateKeys('[1,"x",{"k":1},{"k":2}]')).toBe(false);
    expect(hasDuplicateKeys('"just a string"')).toBe(false);
  });
});

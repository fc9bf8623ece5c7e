import { describe, expect, it } from 'vitest';
import { ValidationError } from '../domain/errors.js';
import { exceedsJsonDepth, MAX_JSON_NESTING_DEPTH, parseJsonBody } from './hardening.js';

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

describe('JSON body parsing', () => {
  it('counts the nesting of objects and arrays, ignoring brackets inside strings', () => {
    expect(exceedsJsonDepth('{"a":[1,{"b":2}]}', 3)).toBe(false);
    expect(exceedsJsonDepth('{"a":[1,{"b":2}]}', 2)).toBe(true);
    expect(exceedsJsonDepth('{"a":"[[[[{{{{"}', 1)).toBe(false);
    expect(exceedsJsonDepth('{"a":"\\"[[[["}', 1)).toBe(false);
    expect(exceedsJsonDepth('[[],[],[]]', 2)).toBe(false);
    expect(exceedsJsonDepth(nested(MAX_JSON_NESTING_DEPTH), MAX_JSON_NESTING_DEPTH)).toBe(false);
    expect(exceedsJsonDepth(nested(MAX_JSON_NESTING_DEPTH + 1), MAX_JSON_NESTING_DEPTH)).toBe(true);
  });

  it('parses JSON and refuses empty, too deep, malformed and prototype-poisoning text', () => {
    expect(parseJsonBody('{"a":[1,"x"]}')).toEqual({ a: [1, 'x'] });
    for (const text of [
      '',
      '  ',
      nested(MAX_JSON_NESTING_DEPTH + 1),
      '{"a":',
      '{"__proto__":{"admin":true}}',
      '{"constructor":{"prototype":{"admin":true}}}',
    ]) {
      expect(() => parseJsonBody(text), text).toThrow(ValidationError);
    }
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { scanJsonStructure } from './json-structure.js';

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

describe('scanJsonStructure', () => {
  it.each([
    ['a flat object', '{"a":1,"b":[1,2,{"c":"d"}]}'],
    ['the same key in sibling objects', '[{"a":1},{"a":2}]'],
    ['the same key at different depths', '{"a":{"a":{"a":1}}}'],
    ['brackets and quotes inside strings', '{"a":"[[[{{{\\"}}}","b":"\\\\"}'],
    ['a key that only looks repeated', '{"a\\"":1,"a":2}'],
    ['64 levels', nested(64)],
    ['a scalar', '42'],
  ])('accepts %s', (_name, text) => {
    expect(scanJsonStructure(text)).toBeUndefined();
  });

  it.each([
    ['65 levels of arrays', nested(65)],
    ['10,000 levels', nested(10_000)],
    ['deep objects inside a field', `{"messages":${'{"a":'.repeat(70)}1${'}'.repeat(70)}}`],
  ])('refuses %s', (_name, text) => {
    expect(scanJsonStructure(text)).toEqual({ kind: 'too_deep', maxDepth: 64 });
  });

  it.each([
    ['a top-level key', '{"model":"a","model":"b"}', 'model', 'model'],
    [
      'a key inside an array element',
      '{"messages":[{"role":"user"},{"role":"a","role":"b"}]}',
      'role',
      'messages[1].role',
    ],
    ['an escaped spelling of the same key', '{"model":1,"\\u006dodel":2}', 'model', 'model'],
    ['"__proto__" twice', '{"__proto__":{},"__proto__":{}}', '__proto__', '__proto__'],
  ])('finds %s repeated', (_name, text, key, path) => {
    expect(scanJsonStructure(text)).toEqual({ kind: 'duplicate_key', key, path });
  });
});

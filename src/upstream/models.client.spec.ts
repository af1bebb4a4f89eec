import { describe, expect, it } from 'vitest';
import { parseModelIds } from './models.client.js';

describe('parseModelIds', () => {
  it.each<[string, string[]]>([
    ['{"object":"list","data":[{"id":"a"},{"id":"b"}]}', ['a', 'b']],
    ['{"data":[{"id":"a"},{"id":"a"},{"id":""},{"id":3},null,{}]}', ['a']],
    ['{"data":[]}', []],
  ])('%s → %j', (text, expected) => {
    expect(parseModelIds(text)).toEqual(expected);
  });

  it.each(['not json', '{"models":[]}', '[]', 'null', '{"data":{}}'])('refuses %s', (text) => {
    expect(() => parseModelIds(text)).toThrow(/GET \/models/);
  });
});

import { describe, expect, it } from 'vitest';
import { LruCache } from './lru-cache.js';

describe('LruCache', () => {
  it('evicts the least recently used entry, one at a time', () => {
    const cache = new LruCache<number>(3);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    expect(cache.get('a')).toBe(1);
    cache.set('d', 4);
    expect(cache.get('b')).toBeUndefined();
    expect([cache.get('a'), cache.get('c'), cache.get('d')]).toEqual([1, 3, 4]);
    expect(cache.size).toBe(3);
  });

  it('keeps an entry in use through a flood of new ones', () => {
    const cache = new LruCache<string>(100);
    cache.set('real', 'tenant');
    for (let index = 0; index < 10_000; index++) {
      cache.set(`random-${index}`, 'unknown');
      if (index % 50 === 0) expect(cache.get('real')).toBe('tenant');
    }
    expect(cache.size).toBe(100);
  });

  it('forgets entries older than the ttl', () => {
    let now = 0;
    const cache = new LruCache<number>(10, 1_000, () => now);
    cache.set('a', 1);
    now = 999;
    expect(cache.get('a')).toBe(1);
    now = 1_000;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});

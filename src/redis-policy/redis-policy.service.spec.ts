import { describe, expect, it } from 'vitest';
import { parseRedisPolicy } from './redis-policy.service.js';

describe('parseRedisPolicy', () => {
  it.each([
    [
      '# Memory\r\nmaxmemory_policy:noeviction\r\n# Persistence\r\naof_enabled:1\r\n',
      'noeviction',
      true,
    ],
    ['maxmemory_policy:allkeys-lru\naof_enabled:0\n', 'allkeys-lru', false],
    ['aof_enabled:0\n', 'noeviction', false],
  ])('%j', (info, maxmemoryPolicy, aof) => {
    expect(parseRedisPolicy(info)).toEqual({ maxmemoryPolicy, aof });
  });
});

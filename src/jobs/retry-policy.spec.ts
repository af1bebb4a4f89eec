import { describe, expect, it } from 'vitest';
import type { UpstreamFailure } from '../upstream/upstream-failure.js';
import { decideRetry, isRetryable } from './retry-policy.js';

const settings = { baseMs: 10_000, maxMs: 300_000, maxRetries: 50 };
const http = (status: number, retryAfterMs?: number): UpstreamFailure => ({
  kind: 'http',
  node: 'n',
  status,
  message: 'x',
  retryAfterMs,
});

describe('isRetryable', () => {
  it.each([
    [http(400), false],
    [http(401), false],
    [http(404), false],
    [http(422), false],
    [http(408), true],
    [http(409), true],
    [http(425), true],
    [http(429), true],
    [http(500), true],
    [http(503), true],
    [{ kind: 'connection', node: 'n', message: 'ECONNREFUSED' } as const, true],
    [{ kind: 'timeout', node: 'n', message: 't' } as const, true],
    [{ kind: 'no_upstream', message: 'none' } as const, true],
  ])('%j → %s', (failure, expected) => {
    expect(isRetryable(failure)).toBe(expected);
  });
});

describe('decideRetry', () => {
  it.each([
    [0, 10_000],
    [1, 20_000],
    [2, 40_000],
    [4, 160_000],
    [5, 300_000],
    [20, 300_000],
  ])('retry %i waits %i ms', (n, delay) => {
    expect(decideRetry(http(503), n, settings)).toEqual({ retry: true, delayMs: delay });
  });

  it('honours a longer Retry-After, up to the cap', () => {
    expect(decideRetry(http(503, 60_000), 0, settings)).toEqual({ retry: true, delayMs: 60_000 });
    expect(decideRetry(http(429, 900_000), 0, settings)).toEqual({ retry: true, delayMs: 300_000 });
    expect(decideRetry(http(503, 1_000), 1, settings)).toEqual({ retry: true, delayMs: 20_000 });
  });

  it('stops after MAX_RETRIES and on client errors', () => {
    expect(decideRetry(http(503), 50, settings)).toEqual({ retry: false });
    expect(decideRetry(http(400), 0, settings)).toEqual({ retry: false });
  });
});

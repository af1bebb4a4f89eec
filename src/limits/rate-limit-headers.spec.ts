import { describe, expect, it } from 'vitest';
import { formatDuration, rateLimitHeaders } from './rate-limit-headers.js';

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [20, '20ms'],
    [999, '999ms'],
    [1000, '1s'],
    [12_300, '13s'],
    [360_000, '6m0s'],
    [3_723_000, '1h2m3s'],
  ])('%i ms → %s', (ms, text) => expect(formatDuration(ms)).toBe(text));
});

describe('rateLimitHeaders', () => {
  it('reports limits, what remains and when it resets', () => {
    const noon = Date.UTC(2026, 10, 25, 12, 0, 0);
    const headers = rateLimitHeaders(
      { rpm: 20, tokensPerDay: 1000, maxConcurrent: 2, maxQueued: 10, weight: 1 },
      {
        requestsInWindow: 5,
        windowResetMs: 30_000,
        tokensToday: 1200,
        tokensReserved: 0,
        openSlots: 1,
        queuedJobs: 0,
      },
      noon,
    );
    expect(headers).toEqual({
      'x-ratelimit-limit-requests': '20',
      'x-ratelimit-remaining-requests': '15',
      'x-ratelimit-reset-requests': '30s',
      'x-ratelimit-limit-tokens': '1000',
      'x-ratelimit-remaining-tokens': '0',
      'x-ratelimit-reset-tokens': '12h0m0s',
    });
  });
});

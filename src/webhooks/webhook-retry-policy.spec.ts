import { describe, expect, it } from 'vitest';
import { decideWebhookRetry } from './webhook-retry-policy.js';

const HOUR = 3_600_000;

describe('decideWebhookRetry', () => {
  it.each([
    { failures: 1, delayMs: 5_000 },
    { failures: 2, delayMs: 10_000 },
    { failures: 3, delayMs: 20_000 },
    { failures: 10, delayMs: 2_560_000 },
    { failures: 11, delayMs: HOUR },
    { failures: 40, delayMs: HOUR },
    { failures: 2_000, delayMs: HOUR },
  ])('waits $delayMs ms after failure $failures (base 5 s)', ({ failures, delayMs }) => {
    expect(decideWebhookRetry(failures, 0, 0, 5_000)).toEqual({ retry: true, delayMs });
  });

  it('retries while the next attempt starts within 24 h of the first', () => {
    expect(decideWebhookRetry(30, 0, 23 * HOUR, 5_000)).toEqual({ retry: true, delayMs: HOUR });
    expect(decideWebhookRetry(30, 0, 23 * HOUR + 1, 5_000)).toEqual({ retry: false });
    expect(decideWebhookRetry(1, 0, 24 * HOUR, 5_000)).toEqual({ retry: false });
  });

  it('counts the window from its start, not from zero', () => {
    expect(decideWebhookRetry(1, 10 * HOUR, 33 * HOUR, 50)).toEqual({ retry: true, delayMs: 50 });
    expect(decideWebhookRetry(1, 10 * HOUR, 34 * HOUR, 50)).toEqual({ retry: false });
  });
});

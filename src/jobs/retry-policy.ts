import type { UpstreamFailure } from '../upstream/upstream-failure.js';

export interface RetrySettings {
  baseMs: number;
  maxMs: number;
  maxRetries: number;
}

export type RetryDecision = { retry: true; delayMs: number } | { retry: false };

// 408 timeout, 409 conflict, 425 too early, 429 rate limited: the same request may succeed later.
const RETRYABLE_CLIENT_STATUSES = new Set([408, 409, 425, 429]);

/** Whether a failure of this kind may succeed if tried again. */
export function isRetryable(failure: UpstreamFailure): boolean {
  // An answer over MAX_RESULT_BYTES would be just as large next time.
  if (failure.kind === 'too_large') return false;
  if (failure.kind !== 'http') return true;
  return failure.status >= 500 || RETRYABLE_CLIENT_STATUSES.has(failure.status);
}

/**
 * What follows failed attempt number `retriesSoFar` (0 for the first attempt): the delay is
 * `min(base × 2^n, max)`, stretched to a longer `Retry-After` up to the same cap.
 */
export function decideRetry(
  failure: UpstreamFailure,
  retriesSoFar: number,
  settings: RetrySettings,
): RetryDecision {
  if (!isRetryable(failure) || retriesSoFar >= settings.maxRetries) return { retry: false };
  const backoff = Math.min(settings.baseMs * 2 ** retriesSoFar, settings.maxMs);
  const requested = failure.kind === 'http' ? (failure.retryAfterMs ?? 0) : 0;
  return { retry: true, delayMs: Math.max(backoff, Math.min(requested, settings.maxMs)) };
}

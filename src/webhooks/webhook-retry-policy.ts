/** Longest wait between two attempts. */
export const WEBHOOK_RETRY_MAX_MS = 3_600_000;
/** How long a delivery is retried before it is recorded as failed. */
export const WEBHOOK_RETRY_WINDOW_MS = 24 * 3_600_000;

export type WebhookRetryDecision = { retry: true; delayMs: number } | { retry: false };

/**
 * After failed attempt number `failures` (1 for the first), wait `base × 2^(failures-1)`
 * capped at an hour; give up once the next attempt would start past the 24 h window.
 */
export function decideWebhookRetry(
  failures: number,
  windowStartedAtMs: number,
  nowMs: number,
  baseMs: number,
): WebhookRetryDecision {
  const delayMs = Math.min(baseMs * 2 ** Math.max(0, failures - 1), WEBHOOK_RETRY_MAX_MS);
  if (nowMs + delayMs > windowStartedAtMs + WEBHOOK_RETRY_WINDOW_MS) return { retry: false };
  return { retry: true, delayMs };
}

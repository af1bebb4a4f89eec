import { msUntilUtcMidnight, type LimitCounters, type LimitSettings } from './limits-store.js';

/** The `x-ratelimit-*` headers of `API.md`, from counters as they stand after a decision. */
export function rateLimitHeaders(
  limits: LimitSettings,
  counters: LimitCounters,
  now = Date.now(),
): Record<string, string> {
  return {
    'x-ratelimit-limit-requests': String(limits.rpm),
    'x-ratelimit-remaining-requests': String(Math.max(0, limits.rpm - counters.requestsInWindow)),
    'x-ratelimit-reset-requests': formatDuration(counters.windowResetMs),
    'x-ratelimit-limit-tokens': String(limits.tokensPerDay),
    // What neither today's usage nor open work's reservations hold.
    'x-ratelimit-remaining-tokens': String(
      Math.max(0, limits.tokensPerDay - counters.tokensToday - counters.tokensReserved),
    ),
    'x-ratelimit-reset-tokens': formatDuration(msUntilUtcMidnight(now)),
  };
}

/** Durations as OpenAI writes them in these headers: `20ms`, `12s`, `6m0s`, `1h2m3s`. */
export function formatDuration(ms: number): string {
  const clamped = Math.max(0, Math.ceil(ms));
  if (clamped < 1000) return `${clamped}ms`;
  const totalSeconds = Math.ceil(clamped / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

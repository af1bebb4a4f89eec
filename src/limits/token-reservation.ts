import { MAX_N, MAX_TOKENS } from '../jobs/chat-request.js';

/**
 * Completion tokens reserved per choice when a request sets no `max_(completion_)tokens`: none.
 * Such a request declares no bound, and reserving a guess would cap a tenant's queue at
 * budget / guess jobs (97 with the default budget and 1,024), refusing work a queue exists to
 * hold; it reserves its prompt alone, and the budget is exact only for requests that set a bound.
 */
export const DEFAULT_RESERVED_COMPLETION_TOKENS = 0;
/** The prompt estimate: one token per this many bytes of the request body. */
export const BODY_BYTES_PER_TOKEN = 4;

/**
 * The tokens a chat completion request may use at worst, held against its tenant's daily budget
 * from admission until its job or stream ends: `max_completion_tokens ?? max_tokens ?? 0`,
 * times `n`, plus the prompt estimated as body bytes / 4. Runs before validation: values out of
 * the accepted range count as their bound (the request is then refused with 400 anyway).
 */
export function tokenReservation(body: unknown, bodyBytes: number): number {
  const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const completion =
    bounded(fields.max_completion_tokens, MAX_TOKENS) ??
    bounded(fields.max_tokens, MAX_TOKENS) ??
    DEFAULT_RESERVED_COMPLETION_TOKENS;
  const choices = bounded(fields.n, MAX_N) ?? 1;
  return completion * choices + Math.ceil(bodyBytes / BODY_BYTES_PER_TOKEN);
}

/** A positive number capped at `max`, or undefined when `value` is not one. */
function bounded(value: unknown, max: number): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 1) return undefined;
  return Math.min(Math.floor(value), max);
}

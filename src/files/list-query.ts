import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';

/** `limit` of an OpenAI-style list: 1 to `max`, `fallback` when absent. */
export function parseListLimit(raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new AppError(ErrorCode.InvalidValue, `limit must be an integer from 1 to ${max}`, {
      param: 'limit',
    });
  }
  return limit;
}

/** `order` of an OpenAI-style list: `desc` (newest first) unless `asc`. */
export function parseListOrder(raw: string | undefined): 'asc' | 'desc' {
  if (raw === undefined || raw === '' || raw === 'desc') return 'desc';
  if (raw === 'asc') return 'asc';
  throw new AppError(ErrorCode.InvalidValue, 'order must be asc or desc', { param: 'order' });
}

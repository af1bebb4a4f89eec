import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';

export const CANCEL_AFTER_HEADER = 'Cancel-After';

/** The longest deadline a request may set. */
export const MAX_CANCEL_AFTER_MS = 24 * 3_600_000;

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000 } as const;
const DURATION_PATTERN = /^([1-9][0-9]{0,7})(s|m|h)$/;

/**
 * The `Cancel-After` header (`30s`, `5m`, `2h`; at most 24 h) in milliseconds, or undefined
 * when absent. Anything else is a 400 naming the header.
 */
export function parseCancelAfter(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const match = typeof header === 'string' ? DURATION_PATTERN.exec(header.trim()) : null;
  const ms = match ? Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS] : NaN;
  if (!(ms <= MAX_CANCEL_AFTER_MS)) {
    throw new AppError(
      ErrorCode.InvalidValue,
      `${CANCEL_AFTER_HEADER} must be a duration such as 30s, 5m or 2h, at most 24h, sent once`,
      { param: CANCEL_AFTER_HEADER },
    );
  }
  return ms;
}

import { createHash } from 'node:crypto';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';

export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
/** Answer header on a request that returned an earlier request's job. */
export const IDEMPOTENT_REPLAYED_HEADER = 'Idempotent-Replayed';

// 1-255 printable ASCII characters (space included).
const KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;

/**
 * The `Idempotency-Key` header's value, or undefined when absent. Anything else than 1-255
 * printable characters (or the header sent twice) is a 400 naming the header.
 */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !KEY_PATTERN.test(header)) {
    throw new AppError(
      ErrorCode.InvalidValue,
      `${IDEMPOTENCY_KEY_HEADER} must be 1 to 255 printable ASCII characters, sent once`,
      { param: IDEMPOTENCY_KEY_HEADER },
    );
  }
  return header;
}

/** SHA-256 (hex) of a request body, compared between requests sharing a key. */
export const hashRequestBody = (body: string | Buffer): string =>
  createHash('sha256').update(body).digest('hex');

/** SHA-256 (hex) of a key: what the stores keep instead of the client's string. */
export const hashIdempotencyKey = (key: string): string =>
  createHash('sha256').update(key, 'utf8').digest('hex');

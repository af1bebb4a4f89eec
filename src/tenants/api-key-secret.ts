import { createHash, randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SECRET_LENGTH = 40;
export const API_KEY_PREFIX = 'inf_';
/** `inf_` then at least 32 base62 characters. */
export const API_KEY_PATTERN = /^inf_[0-9A-Za-z]{32,}$/;

/** A new key: `inf_` and 40 uniformly random base62 characters (≈238 bits). */
export function generateApiKey(): string {
  let secret = '';
  while (secret.length < SECRET_LENGTH) {
    for (const byte of randomBytes(SECRET_LENGTH * 2)) {
      // 248 = 4 × 62: rejecting the rest keeps every character equally likely.
      if (byte < 248 && secret.length < SECRET_LENGTH) secret += ALPHABET[byte % 62];
    }
  }
  return API_KEY_PREFIX + secret;
}

/** Keys are long random secrets, so a plain SHA-256 is as strong as a slow hash here. */
export const hashApiKey = (key: string): string => createHash('sha256').update(key).digest('hex');

export const displayPrefix = (key: string): string => key.slice(0, API_KEY_PREFIX.length + 8);

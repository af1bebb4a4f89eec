import { describe, expect, it } from 'vitest';
import { DEFAULT_RESERVED_COMPLETION_TOKENS, tokenReservation } from './token-reservation.js';

describe('tokenReservation', () => {
  it('reserves max_completion_tokens (else max_tokens, else the default) per choice plus bytes / 4', () => {
    expect(tokenReservation({ max_tokens: 1000 }, 400)).toBe(1100);
    expect(tokenReservation({ max_tokens: 1000, max_completion_tokens: 10, n: 3 }, 1)).toBe(31);
    // No bound declared: the prompt alone.
    expect(tokenReservation({}, 0)).toBe(DEFAULT_RESERVED_COMPLETION_TOKENS);
    expect(tokenReservation({ messages: [] }, 400)).toBe(100);
  });

  it('counts values outside the accepted range as their bound', () => {
    expect(tokenReservation({ max_tokens: 1e9, n: 10_000 }, 0)).toBe(1_000_000 * 128);
    expect(tokenReservation({ max_tokens: 'many', n: -2 }, 0)).toBe(
      DEFAULT_RESERVED_COMPLETION_TOKENS,
    );
    expect(tokenReservation(null, 8)).toBe(DEFAULT_RESERVED_COMPLETION_TOKENS + 2);
  });
});

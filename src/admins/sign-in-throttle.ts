import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';

const WINDOW_MS = 15 * 60_000;
const MAX_FAILURES = 10;
// Bounds memory when someone sprays random emails; a full table is simply dropped.
const MAX_TRACKED = 10_000;

/**
 * Slows password guessing: after MAX_FAILURES failed sign-ins for one email within WINDOW_MS,
 * further attempts are refused until the window passes. Per instance, in memory.
 */
export class SignInThrottle {
  private readonly failures = new Map<string, { count: number; since: number }>();

  assertAllowed(email: string, now = Date.now()): void {
    const entry = this.failures.get(email);
    if (!entry || now - entry.since > WINDOW_MS) return;
    if (entry.count >= MAX_FAILURES) {
      throw new AppError(
        ErrorCode.RateLimitExceeded,
        'Too many failed sign-ins for this email; try again later',
        { retryAfterS: Math.ceil((entry.since + WINDOW_MS - now) / 1000) },
      );
    }
  }

  recordFailure(email: string, now = Date.now()): void {
    const entry = this.failures.get(email);
    if (!entry || now - entry.since > WINDOW_MS) {
      if (this.failures.size >= MAX_TRACKED) this.failures.clear();
      this.failures.set(email, { count: 1, since: now });
    } else {
      entry.count++;
    }
  }

  recordSuccess(email: string): void {
    this.failures.delete(email);
  }
}

// Socket-level failures: the store is down, restarting or cut off.
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

// PostgreSQL: connection exceptions (class 08), shutting down or starting up, too many clients,
// disk full, out of memory.
const POSTGRES_UNAVAILABLE = /^(08...|57P0[123]|53[123]00)$/;

// What ioredis and pg say when they give up on a connection rather than on a command.
const CLIENT_MESSAGES = [
  /^Connection is closed/, // ioredis
  /^Stream isn't writeable/, // ioredis, offline queue disabled
  /^Command timed out/, // ioredis commandTimeout
  /max retries per request/i, // ioredis MaxRetriesPerRequestError
  /^Connection terminated/, // pg
  /timeout exceeded when trying to connect/, // pg pool
  // Redis at `maxmemory` under `noeviction` refuses writes until memory frees; so does a Redis
  // whose last snapshot failed (stop-writes-on-bgsave-error).
  /^OOM command not allowed/,
  /^MISCONF /,
];

/**
 * Whether `error` (or what it wraps) says that PostgreSQL or Redis could not be reached or cannot
 * take writes for now (full), as opposed to a command that was wrong: the first is a 503 for the
 * client, the second a bug.
 */
export function isStoreUnreachable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (NETWORK_ERROR_CODES.has(code) || POSTGRES_UNAVAILABLE.test(code)) return true;
    }
    if (CLIENT_MESSAGES.some((pattern) => pattern.test((current as Error).message))) return true;
    if (current instanceof AggregateError && current.errors.some(isStoreUnreachable)) return true;
    // TypeORM keeps the driver's error beside its own; everything else uses `cause`.
    current = (current as { driverError?: unknown }).driverError ?? current.cause;
  }
  return false;
}

/** A job that ended without completing (dead, cancelled or expired), as its tenant's cap counts it. */
export interface DeadLetterEntry {
  tenantId: string;
  jobId: string;
  /** The stored request's size in bytes (UTF-8). */
  bytes: number;
}

/**
 * Per-tenant index of the bytes kept by jobs in the queue's failed set, one implementation per
 * store, beside the queue (Redis Lua or a PostgreSQL function): each record is one atomic step.
 */
export interface DeadLetterStore {
  /**
   * Records `entry` as its tenant's newest (idempotent per job id: recording it again replaces
   * it), forgets entries older than `ttlS`, then drops the tenant's oldest entries until their
   * bytes are at most `capBytes`. Resolves with the ids it dropped, oldest first: the caller
   * removes those jobs from the queue.
   */
  record(entry: DeadLetterEntry, ttlS: number, capBytes: number): Promise<string[]>;
  close(): Promise<void>;
}

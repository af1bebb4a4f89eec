/** What a claim of an `Idempotency-Key` found. */
export type IdempotencyClaim =
  { kind: 'new' } | { kind: 'replay'; jobId: string } | { kind: 'mismatch' };

export interface IdempotencyClaimRequest {
  tenantId: string;
  /** SHA-256 of the client's key (hex). */
  keyHash: string;
  /** SHA-256 of the request body (hex): the same key with another body is a mismatch. */
  bodyHash: string;
  /** The job the key names if this claim is the first. */
  jobId: string;
  ttlMs: number;
}

/**
 * Keys shared by every instance: a claim is atomic, so of any number of concurrent claims of
 * one (tenant, key) exactly one is `new`. Redis or PostgreSQL.
 */
export interface IdempotencyStore {
  claim(request: IdempotencyClaimRequest): Promise<IdempotencyClaim>;
  /** Frees a key whose job was never created; only while it still names `jobId`. */
  release(tenantId: string, keyHash: string, jobId: string): Promise<void>;
  /** Drops expired keys (the Redis store lets them expire by themselves). */
  purgeExpired(): Promise<void>;
  close(): Promise<void>;
}

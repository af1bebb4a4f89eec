import type { DataSource } from 'typeorm';
import type {
  IdempotencyClaim,
  IdempotencyClaimRequest,
  IdempotencyStore,
} from './idempotency-store.js';

/**
 * Idempotency keys in PostgreSQL, for deployments without Redis. The primary key makes the
 * first claim win; a concurrent claim waits for it on the row lock, then reads its record.
 */
export class PostgresIdempotencyRepository implements IdempotencyStore {
  constructor(private readonly dataSource: DataSource) {}

  async claim(request: IdempotencyClaimRequest): Promise<IdempotencyClaim> {
    const { tenantId, keyHash, bodyHash, jobId, ttlMs } = request;
    // A row past its expiry counts as absent: the conflict branch takes it over.
    for (let round = 0; round < 3; round++) {
      const taken = await this.dataSource.query<unknown[]>(
        `INSERT INTO idempotency_keys (tenant_id, key_hash, body_hash, job_id, expires_at)
         VALUES ($1, $2, $3, $4, now() + $5 * interval '1 millisecond')
         ON CONFLICT (tenant_id, key_hash) DO UPDATE
           SET body_hash = EXCLUDED.body_hash, job_id = EXCLUDED.job_id,
               expires_at = EXCLUDED.expires_at
           WHERE idempotency_keys.expires_at <= now()
         RETURNING 1`,
        [tenantId, keyHash, bodyHash, jobId, ttlMs],
      );
      if (taken.length > 0) return { kind: 'new' };
      const [current] = await this.dataSource.query<{ body_hash: string; job_id: string }[]>(
        `SELECT body_hash, job_id FROM idempotency_keys
          WHERE tenant_id = $1 AND key_hash = $2 AND expires_at > now()`,
        [tenantId, keyHash],
      );
      // Gone between the two statements (released or expired): claim again.
      if (!current) continue;
      return current.body_hash === bodyHash
        ? { kind: 'replay', jobId: current.job_id }
        : { kind: 'mismatch' };
    }
    throw new Error(`idempotency key of tenant ${tenantId} keeps changing; try again`);
  }

  async release(tenantId: string, keyHash: string, jobId: string): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key_hash = $2 AND job_id = $3`,
      [tenantId, keyHash, jobId],
    );
  }

  async purgeExpired(): Promise<void> {
    await this.dataSource.query(`DELETE FROM idempotency_keys WHERE expires_at <= now()`);
  }

  async close(): Promise<void> {
    // The DataSource belongs to the app.
  }
}

import type { DataSource } from 'typeorm';
import type { DeadLetterEntry, DeadLetterStore } from './dead-letter-store.js';

/**
 * The dead-letter index in PostgreSQL, beside the queue's tables: one function call
 * (`infq_dead_letter_record`, migration 1796000700000) under the tenant's advisory lock.
 */
export class PostgresDeadLetterRepository implements DeadLetterStore {
  constructor(private readonly dataSource: DataSource) {}

  async record(entry: DeadLetterEntry, ttlS: number, capBytes: number): Promise<string[]> {
    const rows = await this.dataSource.query<{ dropped_id: string }[]>(
      `SELECT dropped_id FROM infq_dead_letter_record($1, $2, $3, $4, $5)`,
      [entry.tenantId, entry.jobId, entry.bytes, ttlS, capBytes],
    );
    return rows.map((row) => row.dropped_id);
  }

  async close(): Promise<void> {}
}

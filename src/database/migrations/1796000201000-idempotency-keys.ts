import type { MigrationInterface, QueryRunner } from 'typeorm';

/** `Idempotency-Key` claims when there is no Redis (see src/idempotency). */
export class IdempotencyKeys1796000201000 implements MigrationInterface {
  name = 'IdempotencyKeys1796000201000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // key_hash: SHA-256 of the client's key, so the index stays small whatever the key.
    await queryRunner.query(`
      CREATE TABLE idempotency_keys (
        tenant_id uuid NOT NULL,
        key_hash text NOT NULL,
        body_hash text NOT NULL,
        job_id text NOT NULL,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, key_hash)
      )`);
    await queryRunner.query(
      `CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE idempotency_keys`);
  }
}

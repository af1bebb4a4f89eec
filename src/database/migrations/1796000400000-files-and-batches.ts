import type { MigrationInterface, QueryRunner } from 'typeorm';

export class FilesAndBatches1796000400000 implements MigrationInterface {
  name = 'FilesAndBatches1796000400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE files (
        id text PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        filename text NOT NULL,
        purpose text NOT NULL,
        bytes bigint NOT NULL DEFAULT 0,
        lines integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
      )`);
    await queryRunner.query(
      `CREATE INDEX files_tenant_created ON files (tenant_id, created_at DESC, id DESC)`,
    );
    await queryRunner.query(`CREATE INDEX files_expires ON files (expires_at)`);
    await queryRunner.query(`
      CREATE TABLE file_chunks (
        file_id text NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        seq integer NOT NULL,
        data bytea NOT NULL,
        PRIMARY KEY (file_id, seq)
      )`);
    await queryRunner.query(`
      CREATE TABLE batches (
        id text PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        input_file_id text NOT NULL,
        endpoint text NOT NULL,
        completion_window text NOT NULL,
        status text NOT NULL,
        metadata jsonb,
        errors jsonb,
        model text,
        output_file_id text,
        error_file_id text,
        total integer NOT NULL DEFAULT 0,
        completed integer NOT NULL DEFAULT 0,
        failed integer NOT NULL DEFAULT 0,
        submitted_through integer NOT NULL DEFAULT 0,
        lease_owner text,
        lease_until timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        in_progress_at timestamptz,
        expires_at timestamptz NOT NULL,
        finalizing_at timestamptz,
        completed_at timestamptz,
        failed_at timestamptz,
        expired_at timestamptz,
        cancelling_at timestamptz,
        cancelled_at timestamptz,
        retain_until timestamptz NOT NULL
      )`);
    await queryRunner.query(
      `CREATE INDEX batches_tenant_created ON batches (tenant_id, created_at DESC, id DESC)`,
    );
    await queryRunner.query(`
      CREATE INDEX batches_open ON batches (created_at)
        WHERE status IN ('validating', 'in_progress', 'finalizing', 'cancelling')`);
    await queryRunner.query(`CREATE INDEX batches_retain ON batches (retain_until)`);
    await queryRunner.query(`
      CREATE TABLE batch_lines (
        batch_id text NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
        line integer NOT NULL,
        custom_id text NOT NULL,
        job_id uuid NOT NULL,
        outcome text,
        response json,
        error json,
        PRIMARY KEY (batch_id, line),
        UNIQUE (batch_id, custom_id)
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX batch_lines_job ON batch_lines (job_id)`);
    await queryRunner.query(
      `CREATE INDEX batch_lines_pending ON batch_lines (batch_id, line) WHERE outcome IS NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE batch_lines`);
    await queryRunner.query(`DROP TABLE batches`);
    await queryRunner.query(`DROP TABLE file_chunks`);
    await queryRunner.query(`DROP TABLE files`);
  }
}

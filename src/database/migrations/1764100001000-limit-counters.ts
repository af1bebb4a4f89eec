import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Counters for per-tenant limits when there is no Redis (see src/limits). */
export class LimitCounters1764100001000 implements MigrationInterface {
  name = 'LimitCounters1764100001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE limit_window (
        tenant_id uuid NOT NULL,
        admission_id uuid NOT NULL,
        admitted_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, admission_id)
      )`);
    await queryRunner.query(
      `CREATE INDEX limit_window_tenant_time_idx ON limit_window (tenant_id, admitted_at)`,
    );
    await queryRunner.query(`
      CREATE TABLE limit_slots (
        slot_id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        kind text NOT NULL CHECK (kind IN ('job', 'stream')),
        taken_at timestamptz NOT NULL,
        expires_at timestamptz
      )`);
    await queryRunner.query(`CREATE INDEX limit_slots_tenant_idx ON limit_slots (tenant_id)`);
    await queryRunner.query(`
      CREATE TABLE tenant_daily_usage (
        tenant_id uuid NOT NULL,
        day date NOT NULL,
        tokens bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant_id, day)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE tenant_daily_usage`);
    await queryRunner.query(`DROP TABLE limit_slots`);
    await queryRunner.query(`DROP TABLE limit_window`);
  }
}

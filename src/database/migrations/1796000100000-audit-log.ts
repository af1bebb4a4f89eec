import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The admin audit log (see src/audit): append-only, written in the transaction it records. */
export class AuditLog1796000100000 implements MigrationInterface {
  name = 'AuditLog1796000100000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // id orders the log (newest first) and is the paging cursor; tenant_id has no foreign key,
    // so the record of a change outlives whatever it changed.
    await queryRunner.query(`
      CREATE TABLE audit_log (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        created_at timestamptz NOT NULL DEFAULT now(),
        actor text NOT NULL,
        action text NOT NULL,
        object_type text NOT NULL,
        object_id text NOT NULL,
        tenant_id uuid,
        details jsonb NOT NULL DEFAULT '{}'::jsonb,
        address text
      )`);
    await queryRunner.query(`CREATE INDEX audit_log_actor_idx ON audit_log (actor, id DESC)`);
    await queryRunner.query(`CREATE INDEX audit_log_action_idx ON audit_log (action, id DESC)`);
    await queryRunner.query(
      `CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, id DESC) WHERE tenant_id IS NOT NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE audit_log`);
  }
}

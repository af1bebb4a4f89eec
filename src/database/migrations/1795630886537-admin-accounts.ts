import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AdminAccounts1795630886537 implements MigrationInterface {
  name = 'AdminAccounts1795630886537';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE admin_users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email text NOT NULL UNIQUE CHECK (email = lower(email)),
        password_hash text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        last_sign_in_at timestamptz
      )`);
    await queryRunner.query(`
      CREATE TABLE admin_sessions (
        id text PRIMARY KEY,
        admin_id uuid NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
        csrf_token text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_seen_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
      )`);
    await queryRunner.query(
      `CREATE INDEX admin_sessions_admin_id_idx ON admin_sessions (admin_id)`,
    );
    await queryRunner.query(
      `CREATE INDEX admin_sessions_expires_at_idx ON admin_sessions (expires_at)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE admin_sessions`);
    await queryRunner.query(`DROP TABLE admin_users`);
  }
}

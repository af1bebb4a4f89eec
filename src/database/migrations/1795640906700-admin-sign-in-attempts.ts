import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AdminSignInAttempts1795640906700 implements MigrationInterface {
  name = 'AdminSignInAttempts1795640906700';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE admin_users
        ADD COLUMN sign_in_attempts integer NOT NULL DEFAULT 0,
        ADD COLUMN sign_in_window_start timestamptz`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE admin_users DROP COLUMN sign_in_window_start, DROP COLUMN sign_in_attempts`);
  }
}

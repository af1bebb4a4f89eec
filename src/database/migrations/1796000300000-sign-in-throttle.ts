import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sign-in attempt counters shared by every instance: one row per bucket (an address, an email,
 * an email from one address), whatever the email, so known and unknown emails are treated alike.
 */
export class SignInThrottle1796000300000 implements MigrationInterface {
  name = 'SignInThrottle1796000300000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE sign_in_throttle (
        bucket text PRIMARY KEY,
        attempts integer NOT NULL,
        window_start timestamptz NOT NULL
      )`);
    await queryRunner.query(
      `CREATE INDEX sign_in_throttle_window_idx ON sign_in_throttle (window_start)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE sign_in_throttle`);
  }
}

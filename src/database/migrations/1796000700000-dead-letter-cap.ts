import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The per-tenant cap on the bytes kept by jobs that ended without completing (see
 * src/retention): an index of those jobs and one function that records a job and drops the
 * tenant's oldest entries past the cap.
 */
export class DeadLetterCap1796000700000 implements MigrationInterface {
  name = 'DeadLetterCap1796000700000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE dead_letter_bytes (
        tenant_id uuid NOT NULL,
        job_id text NOT NULL,
        bytes bigint NOT NULL,
        recorded_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, job_id)
      )`);
    await queryRunner.query(
      `CREATE INDEX dead_letter_bytes_recorded_idx ON dead_letter_bytes (tenant_id, recorded_at)`,
    );
    await queryRunner.query(`
      CREATE FUNCTION infq_dead_letter_record(
        p_tenant uuid, p_job text, p_bytes bigint, p_ttl_s integer, p_cap bigint
      ) RETURNS TABLE (dropped_id text) LANGUAGE plpgsql AS $$
      DECLARE
        v_now timestamptz := clock_timestamp();
      BEGIN
        -- One writer per tenant at a time, so the running total below is exact.
        PERFORM pg_advisory_xact_lock(hashtext('infq_dead_letters:' || p_tenant::text));
        -- Past the retention the queue removes these jobs itself; only the index forgets them.
        DELETE FROM dead_letter_bytes d
         WHERE d.tenant_id = p_tenant AND d.recorded_at < v_now - make_interval(secs => p_ttl_s);
        INSERT INTO dead_letter_bytes AS d (tenant_id, job_id, bytes, recorded_at)
        VALUES (p_tenant, p_job, p_bytes, v_now)
        ON CONFLICT (tenant_id, job_id)
          DO UPDATE SET bytes = EXCLUDED.bytes, recorded_at = EXCLUDED.recorded_at;
        -- Newest first, each entry's bytes plus all newer ones': past the cap, an entry goes.
        RETURN QUERY
          WITH dropped AS (
            DELETE FROM dead_letter_bytes d
             USING (SELECT k.job_id AS id, k.recorded_at AS recorded,
                           sum(k.bytes) OVER (ORDER BY k.recorded_at DESC, k.job_id DESC) AS kept
                      FROM dead_letter_bytes k WHERE k.tenant_id = p_tenant) r
             WHERE d.tenant_id = p_tenant AND d.job_id = r.id AND r.kept > p_cap
            RETURNING d.job_id, r.recorded)
          SELECT dropped.job_id FROM dropped ORDER BY dropped.recorded, dropped.job_id;
      END $$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP FUNCTION infq_dead_letter_record(uuid, text, bigint, integer, bigint)`,
    );
    await queryRunner.query(`DROP TABLE dead_letter_bytes`);
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One round trip per admission on PostgreSQL: the per-tenant lock is held for microseconds
 * instead of across eight client round trips (see src/limits/postgres-limits.repository.ts).
 */
export class LimitAdmitFunction1764100002000 implements MigrationInterface {
  name = 'LimitAdmitFunction1764100002000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION infq_limits_admit(
        p_tenant uuid, p_admission uuid, p_kind text,
        p_rpm integer, p_max_concurrent integer, p_tokens_per_day bigint,
        p_window_s double precision, p_stream_ttl_s double precision
      ) RETURNS TABLE (refusal text, requests integer, reset_ms double precision, tokens bigint, open integer)
      LANGUAGE plpgsql AS $$
      DECLARE
        v_now timestamptz := clock_timestamp();
        v_oldest timestamptz;
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtext(p_tenant::text));
        DELETE FROM limit_window w
         WHERE w.tenant_id = p_tenant AND w.admitted_at <= v_now - make_interval(secs => p_window_s);
        SELECT count(*)::integer, min(w.admitted_at) INTO requests, v_oldest
          FROM limit_window w WHERE w.tenant_id = p_tenant;
        SELECT count(*)::integer INTO open
          FROM limit_slots s WHERE s.tenant_id = p_tenant AND (s.expires_at IS NULL OR s.expires_at > v_now);
        SELECT coalesce(max(u.tokens), 0) INTO tokens
          FROM tenant_daily_usage u WHERE u.tenant_id = p_tenant AND u.day = (v_now AT TIME ZONE 'UTC')::date;
        reset_ms := CASE WHEN v_oldest IS NULL THEN p_window_s * 1000
                    ELSE EXTRACT(EPOCH FROM (v_oldest + make_interval(secs => p_window_s) - v_now)) * 1000 END;
        refusal := CASE WHEN requests >= p_rpm THEN 'rate_limit'
                        WHEN tokens >= p_tokens_per_day THEN 'daily_tokens'
                        WHEN open >= p_max_concurrent THEN 'concurrency' END;
        IF refusal IS NULL THEN
          INSERT INTO limit_window (tenant_id, admission_id, admitted_at) VALUES (p_tenant, p_admission, v_now);
          INSERT INTO limit_slots (slot_id, tenant_id, kind, taken_at, expires_at)
          VALUES (p_admission, p_tenant, p_kind, v_now,
                  CASE WHEN p_kind = 'stream' THEN v_now + make_interval(secs => p_stream_ttl_s) END);
          IF requests = 0 THEN reset_ms := p_window_s * 1000; END IF;
          requests := requests + 1;
          open := open + 1;
        END IF;
        RETURN NEXT;
      END $$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP FUNCTION infq_limits_admit(uuid, uuid, text, integer, integer, bigint, double precision, double precision)`,
    );
  }
}

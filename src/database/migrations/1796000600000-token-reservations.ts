import type { MigrationInterface, QueryRunner } from 'typeorm';

const OLD_ADMIT =
  'infq_limits_admit(uuid, uuid, text, integer, integer, integer, integer, bigint, double precision, double precision)';

/**
 * The admission function as this migration made it (without `CREATE`); the next version's
 * `down()` puts it back.
 */
export const ADMIT_WITH_RESERVATIONS = `
      FUNCTION infq_limits_admit(
        p_tenant uuid, p_admission uuid, p_kind text,
        p_rpm integer, p_max_concurrent integer, p_max_queued integer, p_weight integer,
        p_tokens_per_day bigint, p_window_s double precision, p_stream_ttl_s double precision,
        p_reserve bigint
      ) RETURNS TABLE (refusal text, requests integer, reset_ms double precision, tokens bigint,
                       reserved bigint, open integer, queued integer)
      LANGUAGE plpgsql AS $$
      DECLARE
        v_now timestamptz := clock_timestamp();
        v_oldest timestamptz;
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtext(p_tenant::text));
        DELETE FROM limit_window w
         WHERE w.tenant_id = p_tenant AND w.admitted_at <= v_now - make_interval(secs => p_window_s);
        -- An admission whose request died before its job reached the queue.
        DELETE FROM dispatch_jobs j
         WHERE j.tenant_id = p_tenant AND j.state = 'pending' AND j.admitted_at < v_now - interval '10 minutes';
        SELECT count(*)::integer, min(w.admitted_at) INTO requests, v_oldest
          FROM limit_window w WHERE w.tenant_id = p_tenant;
        SELECT count(*)::integer INTO open
          FROM dispatch_leases l WHERE l.tenant_id = p_tenant AND l.expires_at > v_now;
        SELECT count(*)::integer INTO queued
          FROM dispatch_jobs j WHERE j.queue = p_tenant::text AND j.state <> 'running';
        SELECT coalesce(max(u.tokens), 0) INTO tokens
          FROM tenant_daily_usage u WHERE u.tenant_id = p_tenant AND u.day = (v_now AT TIME ZONE 'UTC')::date;
        reserved := (SELECT coalesce(sum(j.reserved), 0) FROM dispatch_jobs j WHERE j.tenant_id = p_tenant)
                  + (SELECT coalesce(sum(l.reserved), 0) FROM dispatch_leases l
                      WHERE l.tenant_id = p_tenant AND l.kind = 'stream' AND l.expires_at > v_now);
        reset_ms := CASE WHEN v_oldest IS NULL THEN p_window_s * 1000
                    ELSE EXTRACT(EPOCH FROM (v_oldest + make_interval(secs => p_window_s) - v_now)) * 1000 END;
        refusal := CASE WHEN requests >= p_rpm THEN 'rate_limit'
                        WHEN tokens + reserved >= p_tokens_per_day THEN 'daily_tokens'
                        WHEN p_kind = 'job' AND queued >= p_max_queued THEN 'queue_full'
                        WHEN p_kind = 'stream' AND open >= p_max_concurrent THEN 'concurrency' END;
        IF refusal IS NULL THEN
          INSERT INTO limit_window (tenant_id, admission_id, admitted_at) VALUES (p_tenant, p_admission, v_now);
          INSERT INTO dispatch_tenants VALUES (p_tenant, p_max_concurrent, p_weight)
            ON CONFLICT (tenant_id) DO UPDATE SET max_concurrent = EXCLUDED.max_concurrent, weight = EXCLUDED.weight
            WHERE (dispatch_tenants.max_concurrent, dispatch_tenants.weight) IS DISTINCT FROM (EXCLUDED.max_concurrent, EXCLUDED.weight);
          IF p_kind = 'job' THEN
            INSERT INTO dispatch_jobs (job_id, tenant_id, queue, state, admitted_at, reserved)
            VALUES (p_admission, p_tenant, p_tenant::text, 'pending', v_now, p_reserve);
            queued := queued + 1;
            reserved := reserved + p_reserve;
          ELSIF p_kind = 'stream' THEN
            INSERT INTO dispatch_leases (lease_id, tenant_id, node, kind, expires_at, reserved)
            VALUES (p_admission, p_tenant, '', 'stream', v_now + make_interval(secs => p_stream_ttl_s), p_reserve);
            open := open + 1;
            reserved := reserved + p_reserve;
          END IF;
          IF requests = 0 THEN reset_ms := p_window_s * 1000; END IF;
          requests := requests + 1;
        END IF;
        RETURN NEXT;
      END $$`;

/**
 * Token reservations (see `tokenReservation`): an admitted job or stream holds its worst case
 * in tokens until it ends, on its dispatcher row (`dispatch_jobs` for a job, its stream lease),
 * so it leaves with the job's end or the lease's expiry. Admission refuses while the tokens used
 * today plus the tenant's open reservations have reached its daily budget.
 */
export class TokenReservations1796000600000 implements MigrationInterface {
  name = 'TokenReservations1796000600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE dispatch_jobs ADD COLUMN reserved bigint NOT NULL DEFAULT 0`,
    );
    await queryRunner.query(
      `ALTER TABLE dispatch_leases ADD COLUMN reserved bigint NOT NULL DEFAULT 0`,
    );
    await queryRunner.query(`CREATE INDEX dispatch_jobs_tenant_idx ON dispatch_jobs (tenant_id)`);
    await queryRunner.query(`DROP FUNCTION ${OLD_ADMIT}`);
    await queryRunner.query(`CREATE ${ADMIT_WITH_RESERVATIONS}`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP FUNCTION infq_limits_admit(uuid, uuid, text, integer, integer, integer, integer, bigint, double precision, double precision, bigint)`,
    );
    await queryRunner.query(`DROP INDEX dispatch_jobs_tenant_idx`);
    await queryRunner.query(`ALTER TABLE dispatch_leases DROP COLUMN reserved`);
    await queryRunner.query(`ALTER TABLE dispatch_jobs DROP COLUMN reserved`);
    // The function as migration 1796000000000 made it.
    await queryRunner.query(`
      CREATE FUNCTION infq_limits_admit(
        p_tenant uuid, p_admission uuid, p_kind text,
        p_rpm integer, p_max_concurrent integer, p_max_queued integer, p_weight integer,
        p_tokens_per_day bigint, p_window_s double precision, p_stream_ttl_s double precision
      ) RETURNS TABLE (refusal text, requests integer, reset_ms double precision, tokens bigint,
                       open integer, queued integer)
      LANGUAGE plpgsql AS $$
      DECLARE
        v_now timestamptz := clock_timestamp();
        v_oldest timestamptz;
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtext(p_tenant::text));
        DELETE FROM limit_window w
         WHERE w.tenant_id = p_tenant AND w.admitted_at <= v_now - make_interval(secs => p_window_s);
        DELETE FROM dispatch_jobs j
         WHERE j.tenant_id = p_tenant AND j.state = 'pending' AND j.admitted_at < v_now - interval '10 minutes';
        SELECT count(*)::integer, min(w.admitted_at) INTO requests, v_oldest
          FROM limit_window w WHERE w.tenant_id = p_tenant;
        SELECT count(*)::integer INTO open
          FROM dispatch_leases l WHERE l.tenant_id = p_tenant AND l.expires_at > v_now;
        SELECT count(*)::integer INTO queued
          FROM dispatch_jobs j WHERE j.queue = p_tenant::text AND j.state <> 'running';
        SELECT coalesce(max(u.tokens), 0) INTO tokens
          FROM tenant_daily_usage u WHERE u.tenant_id = p_tenant AND u.day = (v_now AT TIME ZONE 'UTC')::date;
        reset_ms := CASE WHEN v_oldest IS NULL THEN p_window_s * 1000
                    ELSE EXTRACT(EPOCH FROM (v_oldest + make_interval(secs => p_window_s) - v_now)) * 1000 END;
        refusal := CASE WHEN requests >= p_rpm THEN 'rate_limit'
                        WHEN tokens >= p_tokens_per_day THEN 'daily_tokens'
                        WHEN p_kind = 'job' AND queued >= p_max_queued THEN 'queue_full'
                        WHEN p_kind = 'stream' AND open >= p_max_concurrent THEN 'concurrency' END;
        IF refusal IS NULL THEN
          INSERT INTO limit_window (tenant_id, admission_id, admitted_at) VALUES (p_tenant, p_admission, v_now);
          INSERT INTO dispatch_tenants VALUES (p_tenant, p_max_concurrent, p_weight)
            ON CONFLICT (tenant_id) DO UPDATE SET max_concurrent = EXCLUDED.max_concurrent, weight = EXCLUDED.weight
            WHERE (dispatch_tenants.max_concurrent, dispatch_tenants.weight) IS DISTINCT FROM (EXCLUDED.max_concurrent, EXCLUDED.weight);
          IF p_kind = 'job' THEN
            INSERT INTO dispatch_jobs (job_id, tenant_id, queue, state, admitted_at)
            VALUES (p_admission, p_tenant, p_tenant::text, 'pending', v_now);
            queued := queued + 1;
          ELSIF p_kind = 'stream' THEN
            INSERT INTO dispatch_leases VALUES (p_admission, p_tenant, '', 'stream', v_now + make_interval(secs => p_stream_ttl_s));
            open := open + 1;
          END IF;
          IF requests = 0 THEN reset_ms := p_window_s * 1000; END IF;
          requests := requests + 1;
        END IF;
        RETURN NEXT;
      END $$`);
  }
}

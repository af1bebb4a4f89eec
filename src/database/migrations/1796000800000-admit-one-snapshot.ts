import type { MigrationInterface, QueryRunner } from 'typeorm';
import { ADMIT_WITH_RESERVATIONS } from './1796000600000-token-reservations.js';

/**
 * Admission reads the tokens used today and the open reservations in one statement. Read in two,
 * a job ending in between (its reservation deleted and its tokens charged in one transaction)
 * was seen in neither, and one admission too many got through a race for the last of a budget
 * (reliability 12 on the PostgreSQL queue: 50 admitted where 49 fit).
 */
export class AdmitOneSnapshot1796000800000 implements MigrationInterface {
  name = 'AdmitOneSnapshot1796000800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE OR REPLACE ${ADMIT_ONE_SNAPSHOT}`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE OR REPLACE ${ADMIT_WITH_RESERVATIONS}`);
  }
}

const ADMIT_ONE_SNAPSHOT = `
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
        -- One statement, one snapshot: a job that ends moves its reservation into the day's
        -- usage in one transaction, and reading the two apart could see neither.
        SELECT (SELECT coalesce(max(u.tokens), 0) FROM tenant_daily_usage u
                 WHERE u.tenant_id = p_tenant AND u.day = (v_now AT TIME ZONE 'UTC')::date),
               (SELECT coalesce(sum(j.reserved), 0) FROM dispatch_jobs j WHERE j.tenant_id = p_tenant)
               + (SELECT coalesce(sum(l.reserved), 0) FROM dispatch_leases l
                   WHERE l.tenant_id = p_tenant AND l.kind = 'stream' AND l.expires_at > v_now)
          INTO tokens, reserved;
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

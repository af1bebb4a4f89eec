import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The dispatcher's fast path (see `DispatchStore.claim`): while no list waits, a job takes its
 * lease before it is added to the queue, and skips the waiting list and the dispatch round.
 * Tokens are now charged by `infq_dispatch_finish` alone, after the completion is recorded.
 */
export class DispatchClaim1796000500000 implements MigrationInterface {
  name = 'DispatchClaim1796000500000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION infq_dispatch_charge(uuid, bigint)`);
    // "Does anything wait?" is asked before every claim.
    await queryRunner.query(
      `CREATE INDEX dispatch_jobs_ready_idx ON dispatch_jobs (seq) WHERE state = 'ready'`,
    );
    await queryRunner.query(`
      CREATE FUNCTION infq_dispatch_claim(
        p_job uuid, p_tenant uuid, p_queue text, p_model text,
        p_max_concurrent integer, p_weight integer, p_nodes jsonb, p_lease_ms integer
      ) RETURNS text LANGUAGE plpgsql AS $$
      DECLARE
        v_now timestamptz := clock_timestamp();
        v_state text;
        v_provider text := 'bus';
        v_name text := p_model;
        v_node text;
      BEGIN
        -- Someone waits, or a retry is due: the job takes its turn in its list. Asked once
        -- without the lock, so that a busy pool costs no lock wait.
        IF EXISTS (SELECT 1 FROM dispatch_jobs j WHERE j.state = 'ready')
           OR EXISTS (SELECT 1 FROM dispatch_jobs j WHERE j.state = 'retry' AND j.due_at <= v_now) THEN
          RETURN NULL;
        END IF;
        -- The same locks, in the same order, as infq_dispatch_run.
        PERFORM pg_advisory_xact_lock(hashtext('infq_dispatch'));
        PERFORM pg_advisory_xact_lock(hashtext(p_tenant::text));
        IF EXISTS (SELECT 1 FROM dispatch_jobs j WHERE j.state = 'ready') THEN RETURN NULL; END IF;
        SELECT j.state INTO v_state FROM dispatch_jobs j WHERE j.job_id = p_job;
        IF v_state IS NOT NULL AND v_state <> 'pending' THEN RETURN NULL; END IF;
        IF (SELECT count(*) FROM dispatch_leases l
             WHERE l.tenant_id = p_tenant AND l.expires_at > v_now) >= p_max_concurrent THEN
          RETURN NULL;
        END IF;
        IF p_model LIKE 'pistachio/%' THEN
          v_provider := 'pistachio'; v_name := substr(p_model, 11);
        END IF;
        -- Among the nodes serving the model that have room, one drawn by stake.
        SELECT e->>'id' INTO v_node
          FROM jsonb_array_elements(p_nodes) AS t(e)
         WHERE e->>'p' = v_provider AND (e->>'ok')::boolean
           AND (jsonb_typeof(e->'m') <> 'array' OR e->'m' ? v_name)
           AND (e->>'max')::integer
                 - (SELECT count(*) FROM dispatch_leases l
                     WHERE l.node = e->>'id' AND l.expires_at > v_now)::integer
                 - (SELECT count(*) FROM dispatch_stream_waits w
                     WHERE w.node = e->>'id' AND w.seen_at >= v_now - interval '1 second')::integer > 0
         ORDER BY -ln(1 - random()) / (e->>'s')::double precision
         LIMIT 1;
        IF v_node IS NULL THEN
          -- No node serves the model at all: the attempt runs and fails as no_upstream.
          IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_nodes) AS t(e)
                      WHERE e->>'p' = v_provider AND (e->>'ok')::boolean
                        AND (jsonb_typeof(e->'m') <> 'array' OR e->'m' ? v_name)) THEN
            RETURN NULL;
          END IF;
          v_node := '';
        END IF;
        INSERT INTO dispatch_tenants VALUES (p_tenant, p_max_concurrent, p_weight)
          ON CONFLICT (tenant_id) DO NOTHING;
        INSERT INTO dispatch_queues (queue, tenant_id, vt) VALUES (p_queue, p_tenant, 0)
          ON CONFLICT (queue) DO NOTHING;
        INSERT INTO dispatch_jobs (job_id, tenant_id, queue, model, seq, state)
        VALUES (p_job, p_tenant, p_queue, p_model, nextval('dispatch_seq'), 'running')
          ON CONFLICT (job_id) DO UPDATE
          SET state = 'running', queue = EXCLUDED.queue, model = EXCLUDED.model, seq = EXCLUDED.seq;
        INSERT INTO dispatch_leases VALUES (p_job, p_tenant, v_node, 'job',
                                            v_now + make_interval(secs => p_lease_ms / 1000.0))
          ON CONFLICT (lease_id) DO UPDATE SET node = EXCLUDED.node, expires_at = EXCLUDED.expires_at;
        RETURN v_node;
      END $$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP FUNCTION infq_dispatch_claim(uuid, uuid, text, text, integer, integer, jsonb, integer)`,
    );
    await queryRunner.query(`DROP INDEX dispatch_jobs_ready_idx`);
    await queryRunner.query(`
      CREATE FUNCTION infq_dispatch_charge(p_job uuid, p_tokens bigint)
      RETURNS void LANGUAGE plpgsql AS $$
      DECLARE
        v_tenant uuid;
      BEGIN
        UPDATE dispatch_jobs SET charged = true WHERE job_id = p_job AND NOT charged
          RETURNING tenant_id INTO v_tenant;
        IF v_tenant IS NOT NULL AND p_tokens > 0 THEN
          INSERT INTO tenant_daily_usage (tenant_id, day, tokens)
          VALUES (v_tenant, (now() AT TIME ZONE 'UTC')::date, p_tokens)
          ON CONFLICT (tenant_id, day) DO UPDATE SET tokens = tenant_daily_usage.tokens + EXCLUDED.tokens;
        END IF;
      END $$`);
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Fair, capacity-aware dispatch on PostgreSQL (see src/dispatch and docs/architecture.md):
 * tenants' `max_queued` and `weight`, the dispatcher's waiting lists and leases, and one function
 * per dispatcher operation, so each is one round trip under the right lock.
 */
export class FairDispatch1796000000000 implements MigrationInterface {
  name = 'FairDispatch1796000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE tenants
        ADD COLUMN max_queued integer NOT NULL DEFAULT 1000 CHECK (max_queued > 0),
        ADD COLUMN weight integer NOT NULL DEFAULT 1 CHECK (weight > 0)`);
    await queryRunner.query(`ALTER TABLE tenants ALTER COLUMN max_queued DROP DEFAULT`);
    await queryRunner.query(`ALTER TABLE tenants ALTER COLUMN weight DROP DEFAULT`);
    // The old per-job slots are replaced by leases; open slots of a running old version are
    // not carried over (their jobs take a lease when they next run).
    await queryRunner.query(
      `DROP FUNCTION infq_limits_admit(uuid, uuid, text, integer, integer, bigint, double precision, double precision)`,
    );
    await queryRunner.query(`DROP TABLE limit_slots`);
    await queryRunner.query(`CREATE SEQUENCE dispatch_seq`);
    await queryRunner.query(`
      CREATE TABLE dispatch_jobs (
        job_id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        queue text NOT NULL,
        model text,
        seq bigint,
        state text NOT NULL CHECK (state IN ('pending', 'ready', 'retry', 'running')),
        due_at timestamptz,
        admitted_at timestamptz NOT NULL DEFAULT now(),
        charged boolean NOT NULL DEFAULT false
      )`);
    await queryRunner.query(
      `CREATE INDEX dispatch_jobs_queue_idx ON dispatch_jobs (queue, state, seq)`,
    );
    await queryRunner.query(
      `CREATE INDEX dispatch_jobs_due_idx ON dispatch_jobs (due_at) WHERE state = 'retry'`,
    );
    await queryRunner.query(`
      CREATE TABLE dispatch_leases (
        lease_id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        node text NOT NULL DEFAULT '',
        kind text NOT NULL CHECK (kind IN ('job', 'stream')),
        expires_at timestamptz NOT NULL
      )`);
    await queryRunner.query(
      `CREATE INDEX dispatch_leases_tenant_idx ON dispatch_leases (tenant_id)`,
    );
    await queryRunner.query(`CREATE INDEX dispatch_leases_node_idx ON dispatch_leases (node)`);
    await queryRunner.query(`
      CREATE TABLE dispatch_queues (
        queue text PRIMARY KEY,
        tenant_id uuid NOT NULL,
        vt double precision NOT NULL DEFAULT 0
      )`);
    await queryRunner.query(`
      CREATE TABLE dispatch_tenants (
        tenant_id uuid PRIMARY KEY,
        max_concurrent integer NOT NULL,
        weight integer NOT NULL
      )`);
    await queryRunner.query(
      `CREATE TABLE dispatch_clock (id integer PRIMARY KEY, vt double precision NOT NULL)`,
    );
    await queryRunner.query(`INSERT INTO dispatch_clock VALUES (1, 0)`);
    await queryRunner.query(`
      CREATE TABLE dispatch_stream_waits (
        waiter_id uuid NOT NULL,
        node text NOT NULL,
        registered_at timestamptz NOT NULL,
        seen_at timestamptz NOT NULL,
        PRIMARY KEY (waiter_id, node)
      )`);

    // Admission: rpm, tokens today, and queued jobs (jobs) or free tenant slots (streams).
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

    // A job in the queue joins its waiting list (idempotent). p_force: take it back from a lease.
    await queryRunner.query(`
      CREATE FUNCTION infq_dispatch_enqueue(
        p_job uuid, p_tenant uuid, p_queue text, p_model text,
        p_max_concurrent integer, p_weight integer, p_force boolean
      ) RETURNS void LANGUAGE plpgsql AS $$
      DECLARE
        v_state text;
      BEGIN
        INSERT INTO dispatch_tenants VALUES (p_tenant, p_max_concurrent, p_weight)
          ON CONFLICT (tenant_id) DO NOTHING;
        INSERT INTO dispatch_queues (queue, tenant_id, vt) VALUES (p_queue, p_tenant, 0)
          ON CONFLICT (queue) DO NOTHING;
        SELECT state INTO v_state FROM dispatch_jobs WHERE job_id = p_job FOR UPDATE;
        IF v_state IS NULL THEN
          INSERT INTO dispatch_jobs (job_id, tenant_id, queue, model, seq, state)
          VALUES (p_job, p_tenant, p_queue, p_model, nextval('dispatch_seq'), 'ready');
        ELSIF v_state = 'pending' THEN
          UPDATE dispatch_jobs SET state = 'ready', model = p_model, queue = p_queue,
                 seq = nextval('dispatch_seq') WHERE job_id = p_job;
        ELSIF v_state = 'running' AND p_force THEN
          DELETE FROM dispatch_leases WHERE lease_id = p_job;
          UPDATE dispatch_jobs SET state = 'ready' WHERE job_id = p_job;
        ELSIF v_state = 'running' AND NOT EXISTS (SELECT 1 FROM dispatch_leases WHERE lease_id = p_job) THEN
          UPDATE dispatch_jobs SET state = 'ready' WHERE job_id = p_job;
        END IF;
      END $$`);

    // Hands out up to p_limit (job, node) pairs: weighted round-robin across waiting lists by
    // virtual time, FIFO within one, only where the tenant has a free slot and a node has room.
    await queryRunner.query(`
      CREATE FUNCTION infq_dispatch_run(p_nodes jsonb, p_limit integer, p_lease_ms integer)
      RETURNS TABLE (job_id uuid, tenant_id uuid, node text)
      LANGUAGE plpgsql AS $$
      DECLARE
        v_now timestamptz := clock_timestamp();
        v_clock double precision;
        v_candidate record;
        v_node text;
        v_model text;
        v_name text;
        v_provider text;
        v_any boolean;
        v_assigned boolean;
        v_count integer := 0;
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtext('infq_dispatch'));
        DELETE FROM dispatch_leases l WHERE l.expires_at <= v_now;
        DELETE FROM dispatch_stream_waits w WHERE w.seen_at < v_now - interval '1 second';
        UPDATE dispatch_jobs j SET state = 'ready' WHERE j.state = 'retry' AND j.due_at <= v_now;
        -- A job whose lease ran out (its worker died) waits again at its place.
        UPDATE dispatch_jobs j SET state = 'ready'
         WHERE j.state = 'running' AND NOT EXISTS (SELECT 1 FROM dispatch_leases l WHERE l.lease_id = j.job_id);
        SELECT c.vt INTO v_clock FROM dispatch_clock c WHERE c.id = 1 FOR UPDATE;
        CREATE TEMP TABLE IF NOT EXISTS pg_temp.dispatch_room (node text PRIMARY KEY, provider text, ok boolean,
          models jsonb, room integer, stake double precision) ON COMMIT DROP;
        DELETE FROM pg_temp.dispatch_room;
        INSERT INTO pg_temp.dispatch_room
        SELECT e->>'id', e->>'p', (e->>'ok')::boolean, e->'m',
               (e->>'max')::integer
                 - (SELECT count(*) FROM dispatch_leases l WHERE l.node = e->>'id')::integer
                 - (SELECT count(*) FROM dispatch_stream_waits w WHERE w.node = e->>'id')::integer,
               (e->>'s')::double precision
          FROM jsonb_array_elements(p_nodes) AS t(e);
        WHILE v_count < p_limit LOOP
          v_assigned := false;
          FOR v_candidate IN
            SELECT q.queue, q.tenant_id, greatest(q.vt, v_clock) AS vt, t.weight, t.max_concurrent,
                   (SELECT j.job_id FROM dispatch_jobs j
                     WHERE j.queue = q.queue AND j.state = 'ready' ORDER BY j.seq LIMIT 1) AS head
              FROM dispatch_queues q JOIN dispatch_tenants t ON t.tenant_id = q.tenant_id
             WHERE EXISTS (SELECT 1 FROM dispatch_jobs j WHERE j.queue = q.queue AND j.state = 'ready')
             ORDER BY greatest(q.vt, v_clock), q.queue
          LOOP
            PERFORM pg_advisory_xact_lock(hashtext(v_candidate.tenant_id::text));
            CONTINUE WHEN (SELECT count(*) FROM dispatch_leases l
                            WHERE l.tenant_id = v_candidate.tenant_id) >= v_candidate.max_concurrent;
            SELECT j.model INTO v_model FROM dispatch_jobs j WHERE j.job_id = v_candidate.head;
            IF v_model LIKE 'pistachio/%' THEN
              v_provider := 'pistachio'; v_name := substr(v_model, 11);
            ELSE
              v_provider := 'bus'; v_name := v_model;
            END IF;
            -- Among the nodes serving the model that have room, one drawn by stake (an
            -- exponential race: the smallest -ln(u) / stake wins with probability stake / total).
            SELECT r.node INTO v_node FROM pg_temp.dispatch_room r
             WHERE r.provider = v_provider AND r.ok AND r.room > 0
               AND (jsonb_typeof(r.models) <> 'array' OR r.models ? v_name)
             ORDER BY -ln(1 - random()) / r.stake LIMIT 1;
            IF v_node IS NULL THEN
              SELECT EXISTS (SELECT 1 FROM pg_temp.dispatch_room r
                              WHERE r.provider = v_provider AND r.ok
                                AND (jsonb_typeof(r.models) <> 'array' OR r.models ? v_name)) INTO v_any;
              -- No node serves the model at all: the attempt runs and fails as no_upstream.
              IF NOT v_any THEN v_node := ''; END IF;
            END IF;
            CONTINUE WHEN v_node IS NULL;
            UPDATE dispatch_jobs j SET state = 'running' WHERE j.job_id = v_candidate.head;
            INSERT INTO dispatch_leases VALUES (v_candidate.head, v_candidate.tenant_id, v_node, 'job',
                                               v_now + make_interval(secs => p_lease_ms / 1000.0))
              ON CONFLICT (lease_id) DO UPDATE SET node = EXCLUDED.node, expires_at = EXCLUDED.expires_at;
            UPDATE pg_temp.dispatch_room r SET room = r.room - 1 WHERE r.node = v_node;
            UPDATE dispatch_queues q SET vt = v_candidate.vt + 1.0 / v_candidate.weight
             WHERE q.queue = v_candidate.queue;
            v_clock := v_candidate.vt;
            job_id := v_candidate.head; tenant_id := v_candidate.tenant_id; node := v_node;
            RETURN NEXT;
            v_count := v_count + 1;
            v_assigned := true;
            EXIT;
          END LOOP;
          EXIT WHEN NOT v_assigned;
        END LOOP;
        UPDATE dispatch_clock c SET vt = v_clock WHERE c.id = 1;
      END $$`);

    // A job ended its attempt: 'final' (frees everything, charges tokens once) or 'retry' (waits
    // until p_due without holding a slot or a place).
    await queryRunner.query(`
      CREATE FUNCTION infq_dispatch_finish(p_job uuid, p_kind text, p_due timestamptz, p_tokens bigint)
      RETURNS void LANGUAGE plpgsql AS $$
      DECLARE
        v_tenant uuid;
        v_charged boolean;
      BEGIN
        DELETE FROM dispatch_leases WHERE lease_id = p_job;
        IF p_kind = 'retry' THEN
          UPDATE dispatch_jobs SET state = 'retry', due_at = p_due WHERE job_id = p_job;
          RETURN;
        END IF;
        DELETE FROM dispatch_jobs WHERE job_id = p_job RETURNING tenant_id, charged INTO v_tenant, v_charged;
        IF v_tenant IS NOT NULL AND p_tokens > 0 AND NOT v_charged THEN
          INSERT INTO tenant_daily_usage (tenant_id, day, tokens)
          VALUES (v_tenant, (now() AT TIME ZONE 'UTC')::date, p_tokens)
          ON CONFLICT (tenant_id, day) DO UPDATE SET tokens = tenant_daily_usage.tokens + EXCLUDED.tokens;
        END IF;
      END $$`);

    // Charges a job's tokens before its completion is recorded; a repeat is a no-op.
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

    // A stream's place at a node: the first candidate with room, counting streams that have
    // waited longer; otherwise the stream registers as waiting (which holds places back from jobs).
    await queryRunner.query(`
      CREATE FUNCTION infq_dispatch_stream_place(p_stream uuid, p_nodes jsonb)
      RETURNS text LANGUAGE plpgsql AS $$
      DECLARE
        v_now timestamptz := clock_timestamp();
        v_n record;
        v_ahead integer;
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtext('infq_dispatch'));
        DELETE FROM dispatch_leases l WHERE l.expires_at <= v_now;
        DELETE FROM dispatch_stream_waits w WHERE w.seen_at < v_now - interval '1 second';
        FOR v_n IN SELECT e->>'id' AS node, (e->>'max')::integer AS max, o
                     FROM jsonb_array_elements(p_nodes) WITH ORDINALITY AS t(e, o) ORDER BY o LOOP
          SELECT count(*) INTO v_ahead FROM dispatch_stream_waits w
           WHERE w.node = v_n.node AND w.waiter_id <> p_stream
             AND w.registered_at < coalesce((SELECT registered_at FROM dispatch_stream_waits
                                              WHERE waiter_id = p_stream AND node = v_n.node), v_now);
          IF (SELECT count(*) FROM dispatch_leases l WHERE l.node = v_n.node) + v_ahead < v_n.max THEN
            UPDATE dispatch_leases SET node = v_n.node WHERE lease_id = p_stream;
            DELETE FROM dispatch_stream_waits WHERE waiter_id = p_stream;
            RETURN v_n.node;
          END IF;
        END LOOP;
        INSERT INTO dispatch_stream_waits
        SELECT p_stream, e->>'id', v_now, v_now FROM jsonb_array_elements(p_nodes) AS t(e)
        ON CONFLICT (waiter_id, node) DO UPDATE SET seen_at = EXCLUDED.seen_at;
        RETURN NULL;
      END $$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const fn of [
      'infq_dispatch_stream_place(uuid, jsonb)',
      'infq_dispatch_charge(uuid, bigint)',
      'infq_dispatch_finish(uuid, text, timestamptz, bigint)',
      'infq_dispatch_run(jsonb, integer, integer)',
      'infq_dispatch_enqueue(uuid, uuid, text, text, integer, integer, boolean)',
      'infq_limits_admit(uuid, uuid, text, integer, integer, integer, integer, bigint, double precision, double precision)',
    ]) {
      await queryRunner.query(`DROP FUNCTION ${fn}`);
    }
    for (const table of [
      'dispatch_stream_waits',
      'dispatch_clock',
      'dispatch_tenants',
      'dispatch_queues',
      'dispatch_leases',
      'dispatch_jobs',
    ]) {
      await queryRunner.query(`DROP TABLE ${table}`);
    }
    await queryRunner.query(`DROP SEQUENCE dispatch_seq`);
    await queryRunner.query(`ALTER TABLE tenants DROP COLUMN max_queued, DROP COLUMN weight`);
  }
}

import type { DataSource } from 'typeorm';
import {
  STREAM_SLOT_TTL_MS,
  WINDOW_MS,
  type AdmissionRefusal,
  type AdmissionRequest,
  type AdmissionResult,
  type LimitCounters,
  type LimitsStore,
} from '../limits/limits-store.js';
import {
  queueName,
  type Assignment,
  type AttemptEnd,
  type DispatchLoad,
  type DispatchNode,
  type DispatchStore,
  type DispatchTenant,
  type JobLane,
  type ListedJob,
  listingArgs,
  nodesJson,
} from './dispatch-store.js';

/**
 * Admission and dispatch in PostgreSQL, for deployments without Redis. Each operation is one
 * function call (migration 1796000000000) under an advisory lock: per tenant for admission, one
 * global lock for handing out places. The database's clock is the only clock.
 */
export class PostgresDispatchRepository implements LimitsStore, DispatchStore {
  constructor(private readonly dataSource: DataSource) {}

  async admit(request: AdmissionRequest): Promise<AdmissionResult> {
    const { tenantId, admissionId, kind, limits, reservation } = request;
    const [row] = await this.dataSource.query<
      {
        refusal: AdmissionRefusal | null;
        requests: number;
        reset_ms: number;
        tokens: string;
        reserved: string;
        open: number;
        queued: number;
      }[]
    >(`SELECT * FROM infq_limits_admit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, [
      tenantId,
      admissionId,
      kind,
      limits.rpm,
      limits.maxConcurrent,
      limits.maxQueued,
      limits.weight,
      limits.tokensPerDay,
      WINDOW_MS / 1000,
      STREAM_SLOT_TTL_MS / 1000,
      reservation ?? 0,
    ]);
    const counters: LimitCounters = {
      requestsInWindow: row.requests,
      windowResetMs: Math.max(0, Math.ceil(row.reset_ms)),
      tokensToday: Number(row.tokens),
      tokensReserved: Number(row.reserved),
      openSlots: row.open,
      queuedJobs: row.queued,
    };
    if (row.refusal) return { admitted: false, refusal: row.refusal, counters };
    // A second statement: one transaction would hold the tenant's lock before the dispatcher's.
    // The claim only saves a round; if it fails (a model PostgreSQL cannot store as text, whose
    // request validation then refuses), the job takes the list.
    const claimedNode = request.claim
      ? await this.claim(
          admissionId,
          { tenantId, maxConcurrent: limits.maxConcurrent, weight: limits.weight },
          'interactive',
          request.claim.model,
          request.claim.nodes,
          request.claim.leaseMs,
        ).catch(() => null)
      : null;
    return { admitted: true, counters, claimedNode };
  }

  async rollback(tenantId: string, admissionId: string): Promise<void> {
    await this.dataSource.query(
      `WITH w AS (DELETE FROM limit_window WHERE tenant_id = $1 AND admission_id = $2),
            j AS (DELETE FROM dispatch_jobs WHERE job_id = $2)
       DELETE FROM dispatch_leases WHERE lease_id = $2`,
      [tenantId, admissionId],
    );
  }

  async counters(tenantId: string): Promise<LimitCounters> {
    const [row] = await this.dataSource.query<
      {
        requests: number;
        reset_ms: number | null;
        open: number;
        queued: number;
        tokens: number | null;
        reserved: number;
      }[]
    >(
      `SELECT
         (SELECT count(*) FROM limit_window
           WHERE tenant_id = $1 AND admitted_at > now() - make_interval(secs => $2))::int AS requests,
         (SELECT EXTRACT(EPOCH FROM (min(admitted_at) + make_interval(secs => $2) - now())) * 1000
            FROM limit_window
           WHERE tenant_id = $1 AND admitted_at > now() - make_interval(secs => $2))::float8 AS reset_ms,
         (SELECT count(*) FROM dispatch_leases
           WHERE tenant_id = $1 AND expires_at > now())::int AS open,
         (SELECT count(*) FROM dispatch_jobs
           WHERE queue = $1::text AND state <> 'running')::int AS queued,
         (SELECT tokens FROM tenant_daily_usage
           WHERE tenant_id = $1 AND day = (now() AT TIME ZONE 'UTC')::date)::float8 AS tokens,
         (SELECT coalesce(sum(reserved), 0) FROM dispatch_jobs WHERE tenant_id = $1)::float8
         + (SELECT coalesce(sum(reserved), 0) FROM dispatch_leases
             WHERE tenant_id = $1 AND kind = 'stream' AND expires_at > now())::float8 AS reserved`,
      [tenantId, WINDOW_MS / 1000],
    );
    return {
      requestsInWindow: row.requests,
      windowResetMs: row.reset_ms === null ? WINDOW_MS : Math.max(0, Math.ceil(row.reset_ms)),
      tokensToday: row.tokens ?? 0,
      tokensReserved: row.reserved,
      openSlots: row.open,
      queuedJobs: row.queued,
    };
  }

  async enqueue(
    jobId: string,
    tenant: DispatchTenant,
    lane: JobLane,
    model: string,
    force: boolean,
  ): Promise<void> {
    await this.dataSource.query(`SELECT infq_dispatch_enqueue($1, $2, $3, $4, $5, $6, $7)`, [
      ...listingArgs(jobId, tenant, lane, model),
      force,
    ]);
  }

  async enqueueMany(
    jobs: readonly ListedJob[],
    tenant: DispatchTenant,
    lane: JobLane,
  ): Promise<void> {
    await this.dataSource.query(
      `SELECT infq_dispatch_enqueue(j.id, $3, $4, j.model, $5, $6, false)
         FROM unnest($1::uuid[], $2::text[]) AS j(id, model)`,
      [
        jobs.map((job) => job.jobId),
        jobs.map((job) => job.model),
        tenant.tenantId,
        queueName(tenant.tenantId, lane),
        tenant.maxConcurrent,
        tenant.weight,
      ],
    );
  }

  async claim(
    jobId: string,
    tenant: DispatchTenant,
    lane: JobLane,
    model: string,
    nodes: readonly DispatchNode[],
    leaseMs: number,
  ): Promise<string | null> {
    const [row] = await this.dataSource.query<{ node: string | null }[]>(
      `SELECT infq_dispatch_claim($1, $2, $3, $4, $5, $6, $7, $8) AS node`,
      [...listingArgs(jobId, tenant, lane, model), nodesJson(nodes), leaseMs],
    );
    return row.node;
  }

  async dispatch(
    nodes: readonly DispatchNode[],
    limit: number,
    leaseMs: number,
  ): Promise<Assignment[]> {
    const rows = await this.dataSource.query<{ job_id: string; tenant_id: string; node: string }[]>(
      `SELECT * FROM infq_dispatch_run($1::jsonb, $2, $3)`,
      [nodesJson(nodes), limit, leaseMs],
    );
    return rows.map((row) => ({ jobId: row.job_id, tenantId: row.tenant_id, node: row.node }));
  }

  async begin(jobId: string, leaseMs: number): Promise<string | null> {
    const rows = await this.dataSource.query<{ node: string }[]>(
      // Through a CTE: TypeORM answers a bare UPDATE with [rows, count].
      `WITH refreshed AS (
         UPDATE dispatch_leases SET expires_at = now() + make_interval(secs => $2)
          WHERE lease_id = $1 AND expires_at > now() RETURNING node)
       SELECT node FROM refreshed`,
      [jobId, leaseMs / 1000],
    );
    return rows[0]?.node ?? null;
  }

  async heartbeat(leaseIds: readonly string[], leaseMs: number): Promise<void> {
    if (leaseIds.length === 0) return;
    await this.dataSource.query(
      `UPDATE dispatch_leases SET expires_at = now() + make_interval(secs => $2)
        WHERE lease_id = ANY($1::uuid[])`,
      [leaseIds, leaseMs / 1000],
    );
  }

  async moveLease(jobId: string, nodes: readonly DispatchNode[]): Promise<string | null> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`SELECT pg_advisory_xact_lock(hashtext('infq_dispatch'))`);
      for (const node of nodes) {
        const [row] = await manager.query<{ used: number }[]>(
          `SELECT (SELECT count(*) FROM dispatch_leases WHERE node = $1)::int
                + (SELECT count(*) FROM dispatch_stream_waits WHERE node = $1)::int AS used`,
          [node.id],
        );
        if (row.used >= node.max) continue;
        const moved = await manager.query<unknown[]>(
          `WITH moved AS (
             UPDATE dispatch_leases SET node = $2 WHERE lease_id = $1 AND node <> $2 RETURNING 1)
           SELECT 1 FROM moved`,
          [jobId, node.id],
        );
        if (moved.length > 0) return node.id;
      }
      return null;
    });
  }

  async finish(jobId: string, end: AttemptEnd): Promise<boolean> {
    const [row] = await this.dataSource.query<{ waiting: boolean }[]>(
      `WITH done AS (SELECT infq_dispatch_finish($1, $2, $3, $4))
       SELECT EXISTS (SELECT 1 FROM dispatch_jobs WHERE state = 'ready') AS waiting FROM done`,
      [
        jobId,
        end.kind,
        end.kind === 'retry' ? new Date(end.dueAt) : null,
        end.kind === 'final' ? (end.tokens ?? 0) : 0,
      ],
    );
    return row.waiting;
  }

  async placeStream(streamId: string, nodes: readonly DispatchNode[]): Promise<string | null> {
    const [row] = await this.dataSource.query<{ node: string | null }[]>(
      `SELECT infq_dispatch_stream_place($1, $2::jsonb) AS node`,
      [streamId, nodesJson(nodes)],
    );
    return row?.node ?? null;
  }

  async releaseStream(
    tenantId: string,
    streamId: string,
    tokens: number | undefined,
  ): Promise<void> {
    // Unknown tokens (no usage chunk came): the stream is charged its reservation.
    await this.dataSource.query(
      `WITH gone AS (
         DELETE FROM dispatch_leases WHERE lease_id = $2::uuid
         RETURNING coalesce($3::bigint, reserved) AS tokens)
       INSERT INTO tenant_daily_usage (tenant_id, day, tokens)
       SELECT $1::uuid, (now() AT TIME ZONE 'UTC')::date, gone.tokens FROM gone WHERE gone.tokens > 0
       ON CONFLICT (tenant_id, day) DO UPDATE SET tokens = tenant_daily_usage.tokens + EXCLUDED.tokens`,
      [tenantId, streamId, tokens ?? null],
    );
  }

  async queuePosition(tenantId: string, lane: JobLane, jobId: string): Promise<number | null> {
    const [row] = await this.dataSource.query<{ position: number | null }[]>(
      `SELECT CASE WHEN j.state = 'ready' THEN
                (SELECT count(*) FROM dispatch_jobs o
                  WHERE o.queue = j.queue AND o.state = 'ready' AND o.seq < j.seq)::int + 1 END AS position
         FROM dispatch_jobs j WHERE j.job_id = $1 AND j.queue = $2`,
      [jobId, queueName(tenantId, lane)],
    );
    return row?.position ?? null;
  }

  /** Reads every node and tenant in two grouped queries; `scope` is not needed here. */
  async load(): Promise<DispatchLoad> {
    const nodes = await this.dataSource.query<{ node: string; count: number }[]>(
      `SELECT node, count(*)::int AS count FROM dispatch_leases
        WHERE node <> '' AND expires_at > now() GROUP BY node`,
    );
    const tenants = await this.dataSource.query<
      { tenant_id: string; queued: number; running: number }[]
    >(
      `SELECT tenant_id,
              sum(queued)::int AS queued, sum(running)::int AS running
         FROM (SELECT tenant_id, count(*) AS queued, 0 AS running FROM dispatch_jobs
                WHERE state <> 'running' AND queue = tenant_id::text GROUP BY tenant_id
               UNION ALL
               SELECT tenant_id, 0, count(*) FROM dispatch_leases
                WHERE expires_at > now() GROUP BY tenant_id) counts
        GROUP BY tenant_id`,
    );
    return {
      nodes: Object.fromEntries(nodes.map((row) => [row.node, row.count])),
      tenants: Object.fromEntries(
        tenants.map((row) => [row.tenant_id, { queued: row.queued, running: row.running }]),
      ),
    };
  }

  async retryingCount(): Promise<number> {
    const [row] = await this.dataSource.query<{ count: number }[]>(
      `SELECT count(*)::int AS count FROM dispatch_jobs WHERE state = 'retry'`,
    );
    return row.count;
  }

  async close(): Promise<void> {
    // The DataSource belongs to the database module.
  }
}

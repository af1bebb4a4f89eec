import type { DataSource, EntityManager } from 'typeorm';
import {
  STREAM_SLOT_TTL_MS,
  WINDOW_MS,
  type AdmissionRefusal,
  type AdmissionRequest,
  type AdmissionResult,
  type LimitCounters,
  type LimitsStore,
  type OpenJobSlot,
} from './limits-store.js';

/**
 * Limit counters in PostgreSQL, for deployments without Redis. A per-tenant advisory lock makes
 * each admission atomic across instances; the database's clock is the only clock.
 */
export class PostgresLimitsRepository implements LimitsStore {
  constructor(private readonly dataSource: DataSource) {}

  async admit(request: AdmissionRequest): Promise<AdmissionResult> {
    const { tenantId, admissionId, kind, limits } = request;
    // All checks and writes in one function call under the tenant's advisory lock (migration
    // 1764100002000): the lock is held for the length of one statement, not of a conversation.
    const [row] = await this.dataSource.query<
      {
        refusal: AdmissionRefusal | null;
        requests: number;
        reset_ms: number;
        tokens: string;
        open: number;
      }[]
    >(`SELECT * FROM infq_limits_admit($1, $2, $3, $4, $5, $6, $7, $8)`, [
      tenantId,
      admissionId,
      kind,
      limits.rpm,
      limits.maxConcurrent,
      limits.tokensPerDay,
      WINDOW_MS / 1000,
      STREAM_SLOT_TTL_MS / 1000,
    ]);
    const counters: LimitCounters = {
      requestsInWindow: row.requests,
      windowResetMs: Math.max(0, Math.ceil(row.reset_ms)),
      tokensToday: Number(row.tokens),
      openSlots: row.open,
    };
    return row.refusal
      ? { admitted: false, refusal: row.refusal, counters }
      : { admitted: true, counters };
  }

  async rollback(tenantId: string, admissionId: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await manager.query(`DELETE FROM limit_window WHERE tenant_id = $1 AND admission_id = $2`, [
        tenantId,
        admissionId,
      ]);
      await manager.query(`DELETE FROM limit_slots WHERE slot_id = $1`, [admissionId]);
    });
  }

  async release(tenantId: string, slotId: string, tokens: number): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await manager.query(`DELETE FROM limit_slots WHERE slot_id = $1`, [slotId]);
      if (tokens > 0) {
        await manager.query(
          `INSERT INTO tenant_daily_usage (tenant_id, day, tokens)
           VALUES ($1, (now() AT TIME ZONE 'UTC')::date, $2)
           ON CONFLICT (tenant_id, day) DO UPDATE SET tokens = tenant_daily_usage.tokens + EXCLUDED.tokens`,
          [tenantId, tokens],
        );
      }
    });
  }

  async forceTakeJobSlot(tenantId: string, jobId: string): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO limit_slots (slot_id, tenant_id, kind, taken_at) VALUES ($1, $2, 'job', now())
       ON CONFLICT (slot_id) DO NOTHING`,
      [jobId, tenantId],
    );
  }

  async refreshStreamSlot(_tenantId: string, streamId: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE limit_slots SET expires_at = now() + make_interval(secs => $2) WHERE slot_id = $1`,
      [streamId, STREAM_SLOT_TTL_MS / 1000],
    );
  }

  counters(tenantId: string): Promise<LimitCounters> {
    return this.read(this.dataSource.manager, tenantId);
  }

  async listJobSlots(olderThanMs: number): Promise<OpenJobSlot[]> {
    const rows: { tenant_id: string; slot_id: string }[] = await this.dataSource.query(
      `SELECT tenant_id, slot_id FROM limit_slots
       WHERE kind = 'job' AND taken_at < now() - make_interval(secs => $1)`,
      [olderThanMs / 1000],
    );
    return rows.map((row) => ({ tenantId: row.tenant_id, jobId: row.slot_id }));
  }

  async close(): Promise<void> {
    // The DataSource belongs to the database module.
  }

  private async read(manager: EntityManager, tenantId: string): Promise<LimitCounters> {
    const [row] = await manager.query<
      { requests: number; reset_ms: number | null; open: number; tokens: number | null }[]
    >(
      `SELECT
         (SELECT count(*) FROM limit_window
           WHERE tenant_id = $1 AND admitted_at > now() - make_interval(secs => $2))::int AS requests,
         (SELECT EXTRACT(EPOCH FROM (min(admitted_at) + make_interval(secs => $2) - now())) * 1000
            FROM limit_window
           WHERE tenant_id = $1 AND admitted_at > now() - make_interval(secs => $2))::float8 AS reset_ms,
         (SELECT count(*) FROM limit_slots
           WHERE tenant_id = $1 AND (expires_at IS NULL OR expires_at > now()))::int AS open,
         (SELECT tokens FROM tenant_daily_usage
           WHERE tenant_id = $1 AND day = (now() AT TIME ZONE 'UTC')::date)::float8 AS tokens`,
      [tenantId, WINDOW_MS / 1000],
    );
    return {
      requestsInWindow: row.requests,
      windowResetMs: row.reset_ms === null ? WINDOW_MS : Math.max(0, Math.ceil(row.reset_ms)),
      tokensToday: row.tokens ?? 0,
      openSlots: row.open,
    };
  }
}

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { BatchLineError, LineOutcome } from './batch-line.js';

export type BatchStatus =
  | 'validating'
  | 'failed'
  | 'in_progress'
  | 'finalizing'
  | 'completed'
  | 'expired'
  | 'cancelling'
  | 'cancelled';

export const OPEN_STATUSES: readonly BatchStatus[] = [
  'validating',
  'in_progress',
  'finalizing',
  'cancelling',
];

export interface StoredBatch {
  id: string;
  tenantId: string;
  inputFileId: string;
  endpoint: string;
  completionWindow: string;
  status: BatchStatus;
  metadata: Record<string, string> | null;
  errors: BatchLineError[] | null;
  model: string | null;
  outputFileId: string | null;
  errorFileId: string | null;
  total: number;
  completed: number;
  failed: number;
  /** Every line up to this one has been submitted as a job. */
  submittedThrough: number;
  createdAt: Date;
  inProgressAt: Date | null;
  expiresAt: Date;
  finalizingAt: Date | null;
  completedAt: Date | null;
  failedAt: Date | null;
  expiredAt: Date | null;
  cancellingAt: Date | null;
  cancelledAt: Date | null;
}

export interface NewBatch {
  id: string;
  tenantId: string;
  inputFileId: string;
  endpoint: string;
  completionWindow: string;
  metadata: Record<string, string> | null;
  expiresAt: Date;
  retainUntil: Date;
}

export interface NewBatchLine {
  line: number;
  customId: string;
  jobId: string;
}

export interface PendingLine {
  line: number;
  jobId: string;
}

/** Where a final status's time is kept. */
const FINAL_TIME_COLUMN = {
  completed: 'completed_at',
  failed: 'failed_at',
  expired: 'expired_at',
  cancelled: 'cancelled_at',
} as const;

export type FinalBatchStatus = keyof typeof FINAL_TIME_COLUMN;

interface BatchRow {
  id: string;
  tenant_id: string;
  input_file_id: string;
  endpoint: string;
  completion_window: string;
  status: BatchStatus;
  metadata: Record<string, string> | null;
  errors: BatchLineError[] | null;
  model: string | null;
  output_file_id: string | null;
  error_file_id: string | null;
  total: number;
  completed: number;
  failed: number;
  submitted_through: number;
  created_at: Date;
  in_progress_at: Date | null;
  expires_at: Date;
  finalizing_at: Date | null;
  completed_at: Date | null;
  failed_at: Date | null;
  expired_at: Date | null;
  cancelling_at: Date | null;
  cancelled_at: Date | null;
}

// An open batch's counts are read from its lines (no hot counter row for every finished line to
// lock); a finished batch keeps them in its row.
const countOf = (outcome: 'completed' | 'failed') =>
  `CASE WHEN status IN ('validating', 'in_progress', 'finalizing', 'cancelling')
     THEN (SELECT count(*)::int FROM batch_lines l
           WHERE l.batch_id = batches.id AND l.outcome = '${outcome}')
     ELSE ${outcome} END AS ${outcome}`;

const COLUMNS = `id, tenant_id, input_file_id, endpoint, completion_window, status, metadata, errors,
  model, output_file_id, error_file_id, total, ${countOf('completed')}, ${countOf('failed')},
  submitted_through, created_at, in_progress_at, expires_at, finalizing_at, completed_at, failed_at,
  expired_at, cancelling_at, cancelled_at`;

@Injectable()
export class BatchesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async create(batch: NewBatch): Promise<StoredBatch> {
    const rows = await this.dataSource.query<BatchRow[]>(
      `INSERT INTO batches (id, tenant_id, input_file_id, endpoint, completion_window, status,
         metadata, expires_at, retain_until)
       VALUES ($1, $2, $3, $4, $5, 'validating', $6, $7, $8) RETURNING ${COLUMNS}`,
      [
        batch.id,
        batch.tenantId,
        batch.inputFileId,
        batch.endpoint,
        batch.completionWindow,
        batch.metadata === null ? null : JSON.stringify(batch.metadata),
        batch.expiresAt,
        batch.retainUntil,
      ],
    );
    return toStoredBatch(rows[0]);
  }

  async findById(id: string): Promise<StoredBatch | null> {
    const rows = await this.dataSource.query<BatchRow[]>(
      `SELECT ${COLUMNS} FROM batches WHERE id = $1`,
      [id],
    );
    return rows[0] ? toStoredBatch(rows[0]) : null;
  }

  /** Newest first; `after` is the last id of the previous page. */
  async list(query: { tenantId?: string; after?: string; limit: number }): Promise<StoredBatch[]> {
    const params: unknown[] = [query.limit];
    const where: string[] = [];
    if (query.tenantId) {
      params.push(query.tenantId);
      where.push(`tenant_id = $${params.length}`);
    }
    if (query.after) {
      params.push(query.after);
      where.push(
        `(created_at, id) < (SELECT created_at, id FROM batches WHERE id = $${params.length})`,
      );
    }
    const rows = await this.dataSource.query<BatchRow[]>(
      `SELECT ${COLUMNS} FROM batches ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at DESC, id DESC LIMIT $1`,
      params,
    );
    return rows.map(toStoredBatch);
  }

  /** Ids of batches with work left, oldest first. */
  async findOpenIds(limit: number): Promise<string[]> {
    const rows = await this.dataSource.query<{ id: string }[]>(
      `SELECT id FROM batches WHERE status = ANY($1) ORDER BY created_at LIMIT $2`,
      [OPEN_STATUSES, limit],
    );
    return rows.map((row) => row.id);
  }

  /**
   * Takes (or renews) the right to work on a batch for `leaseMs`. One instance works on a batch
   * at a time; a crashed one's lease lapses and another takes over.
   */
  async claim(id: string, owner: string, leaseMs: number): Promise<StoredBatch | null> {
    const [rows] = await this.dataSource.query<[BatchRow[], number]>(
      `UPDATE batches SET lease_owner = $2, lease_until = now() + $3 * interval '1 millisecond'
       WHERE id = $1 AND status = ANY($4)
         AND (lease_owner = $2 OR lease_until IS NULL OR lease_until < now())
       RETURNING ${COLUMNS}`,
      [id, owner, leaseMs, OPEN_STATUSES],
    );
    return rows[0] ? toStoredBatch(rows[0]) : null;
  }

  /** Gives up every lease `owner` holds, so another instance takes its batches at once. */
  async releaseLeases(owner: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE batches SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1`,
      [owner],
    );
  }

  /** Moves a batch from one of `from` to `to`, stamping `<to>_at`; false if it was not in `from`. */
  async transition(
    id: string,
    from: readonly BatchStatus[],
    to: 'in_progress' | 'finalizing' | 'cancelling',
    changes: { total?: number; model?: string | null } = {},
  ): Promise<StoredBatch | null> {
    const [rows] = await this.dataSource.query<[BatchRow[], number]>(
      `UPDATE batches SET status = $3, ${to}_at = now(),
         total = COALESCE($4, total), model = COALESCE($5, model)
       WHERE id = $1 AND status = ANY($2) RETURNING ${COLUMNS}`,
      [id, from, to, changes.total ?? null, changes.model ?? null],
    );
    return rows[0] ? toStoredBatch(rows[0]) : null;
  }

  /** Ends a batch: final status, its time, errors and output files. */
  async finish(
    id: string,
    from: readonly BatchStatus[],
    to: FinalBatchStatus,
    result: {
      errors?: BatchLineError[];
      outputFileId?: string | null;
      errorFileId?: string | null;
    },
  ): Promise<StoredBatch | null> {
    const [rows] = await this.dataSource.query<[BatchRow[], number]>(
      `UPDATE batches SET status = $3, ${FINAL_TIME_COLUMN[to]} = now(),
         errors = COALESCE($4, errors), output_file_id = $5, error_file_id = $6,
         lease_owner = NULL, lease_until = NULL,
         completed = (SELECT count(*) FROM batch_lines
                      WHERE batch_id = batches.id AND outcome = 'completed'),
         failed = (SELECT count(*) FROM batch_lines
                   WHERE batch_id = batches.id AND outcome = 'failed')
       WHERE id = $1 AND status = ANY($2) RETURNING ${COLUMNS}`,
      [
        id,
        from,
        to,
        result.errors ? JSON.stringify(result.errors) : null,
        result.outputFileId ?? null,
        result.errorFileId ?? null,
      ],
    );
    return rows[0] ? toStoredBatch(rows[0]) : null;
  }

  async deleteLines(batchId: string): Promise<void> {
    await this.dataSource.query(`DELETE FROM batch_lines WHERE batch_id = $1`, [batchId]);
  }

  async insertLines(batchId: string, lines: readonly NewBatchLine[]): Promise<void> {
    if (lines.length === 0) return;
    await this.dataSource.query(
      `INSERT INTO batch_lines (batch_id, line, custom_id, job_id)
       SELECT $1, * FROM unnest($2::int[], $3::text[], $4::uuid[])`,
      [
        batchId,
        lines.map((line) => line.line),
        lines.map((line) => line.customId),
        lines.map((line) => line.jobId),
      ],
    );
  }

  /** Records progress of the submission; false once the batch is no longer in progress. */
  async markSubmitted(batchId: string, throughLine: number): Promise<boolean> {
    const [, count] = await this.dataSource.query<[unknown, number]>(
      `UPDATE batches SET submitted_through = GREATEST(submitted_through, $2)
       WHERE id = $1 AND status = 'in_progress'`,
      [batchId, throughLine],
    );
    return count > 0;
  }

  /**
   * Records the outcomes of lines (by job id) in one statement; a line that has one already
   * keeps it, so a repeated event changes nothing.
   */
  async recordOutcomes(
    outcomes: readonly { jobId: string; outcome: LineOutcome }[],
  ): Promise<void> {
    await this.dataSource.query(
      `UPDATE batch_lines AS b
          SET outcome = v.outcome, response = v.response::json, error = v.error::json
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[])
              AS v(job_id, outcome, response, error)
        WHERE b.job_id = v.job_id AND b.outcome IS NULL`,
      [
        outcomes.map(({ jobId }) => jobId),
        outcomes.map(({ outcome }) => outcome.outcome),
        outcomes.map(({ outcome }) => outcome.response),
        outcomes.map(({ outcome }) => outcome.error),
      ],
    );
  }

  /** Fails every line after `afterLine` that has no outcome yet with `error` (never submitted). */
  async failLinesAfter(batchId: string, afterLine: number, error: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE batch_lines SET outcome = 'failed', error = $3::json
       WHERE batch_id = $1 AND outcome IS NULL AND line > $2`,
      [batchId, afterLine, error],
    );
  }

  /** Lines without an outcome, in line order after `afterLine`. */
  async pendingLines(
    batchId: string,
    afterLine: number,
    throughLine: number,
    limit: number,
  ): Promise<PendingLine[]> {
    const rows = await this.dataSource.query<{ line: number; job_id: string }[]>(
      `SELECT line, job_id FROM batch_lines
       WHERE batch_id = $1 AND outcome IS NULL AND line > $2 AND line <= $3
       ORDER BY line LIMIT $4`,
      [batchId, afterLine, throughLine, limit],
    );
    return rows.map((row) => ({ line: row.line, jobId: row.job_id }));
  }

  async countPending(batchId: string): Promise<number> {
    const rows = await this.dataSource.query<{ count: number }[]>(
      `SELECT count(*)::int AS count FROM batch_lines WHERE batch_id = $1 AND outcome IS NULL`,
      [batchId],
    );
    return rows[0].count;
  }

  /** Output-file lines (`{"id","custom_id","response","error"}`) with `outcome`, in line order. */
  async *outputLines(batchId: string, outcome: 'completed' | 'failed'): AsyncGenerator<string> {
    const pageSize = 1000;
    let after = 0;
    for (;;) {
      const rows = await this.dataSource.query<{ line: number; text: string }[]>(
        `SELECT line, '{"id":' || to_json('batch_req_' || replace(job_id::text, '-', ''))::text
             || ',"custom_id":' || to_json(custom_id)::text
             || ',"response":' || COALESCE(response::text, 'null')
             || ',"error":' || COALESCE(error::text, 'null') || '}' AS text
         FROM batch_lines WHERE batch_id = $1 AND outcome = $2 AND line > $3
         ORDER BY line LIMIT $4`,
        [batchId, outcome, after, pageSize],
      );
      for (const row of rows) yield row.text;
      if (rows.length < pageSize) return;
      after = rows[rows.length - 1].line;
    }
  }

  async countOutcomes(batchId: string): Promise<{ completed: number; failed: number }> {
    const rows = await this.dataSource.query<{ completed: number; failed: number }[]>(
      `SELECT count(*) FILTER (WHERE outcome = 'completed')::int AS completed,
              count(*) FILTER (WHERE outcome = 'failed')::int AS failed
       FROM batch_lines WHERE batch_id = $1`,
      [batchId],
    );
    return rows[0];
  }

  /** Deletes up to `limit` batches past their retention; returns how many went. */
  async deleteExpired(limit: number): Promise<number> {
    const [, count] = await this.dataSource.query<[unknown, number]>(
      `DELETE FROM batches WHERE id IN (
         SELECT id FROM batches WHERE retain_until <= now() ORDER BY retain_until LIMIT $1)`,
      [limit],
    );
    return count;
  }
}

function toStoredBatch(row: BatchRow): StoredBatch {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    inputFileId: row.input_file_id,
    endpoint: row.endpoint,
    completionWindow: row.completion_window,
    status: row.status,
    metadata: row.metadata,
    errors: row.errors,
    model: row.model,
    outputFileId: row.output_file_id,
    errorFileId: row.error_file_id,
    total: row.total,
    completed: row.completed,
    failed: row.failed,
    submittedThrough: row.submitted_through,
    createdAt: row.created_at,
    inProgressAt: row.in_progress_at,
    expiresAt: row.expires_at,
    finalizingAt: row.finalizing_at,
    completedAt: row.completed_at,
    failedAt: row.failed_at,
    expiredAt: row.expired_at,
    cancellingAt: row.cancelling_at,
    cancelledAt: row.cancelled_at,
  };
}

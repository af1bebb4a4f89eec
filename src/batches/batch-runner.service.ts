import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { FilesService } from '../files/files.service.js';
import { readJsonlLines } from '../files/jsonl-lines.js';
import { JobLifecycleService, type JobFinalEvent } from '../jobs/job-lifecycle.service.js';
import { JobSubmissionService, type JobSubmission } from '../jobs/job-submission.service.js';
import type { JobSnapshot } from '../jobs/job-view.mapper.js';
import { JobsService } from '../jobs/jobs.service.js';
import { BatchEvents } from './batch-events.service.js';
import {
  BATCH_CANCELLED_ERROR,
  BATCH_EXPIRED_ERROR,
  batchLineJobId,
  checkBatchLine,
  lineOutcome,
  type BatchLineError,
  type LineResult,
} from './batch-line.js';
import {
  BatchesRepository,
  type BatchStatus,
  type FinalBatchStatus,
  type NewBatchLine,
  type PendingLine,
  type StoredBatch,
} from './batches.repository.js';
import { toBatchResponse } from './batches.mapper.js';
import { OutcomeWriter } from './outcome-writer.js';

const TICK_MS = 500;
// A batch's worker holds it this long past its last sign of life; then another instance takes it.
const LEASE_MS = 15_000;
// submitted_through once every line is a job.
const ALL_SUBMITTED = 2_147_483_647;
// Lines submitted together; progress is recorded after each group, so a crash repeats at most one.
const SUBMIT_GROUP = 200;
const INSERT_GROUP = 1_000;
const MAX_VALIDATION_ERRORS = 100;
const RECONCILE_PAGE = 500;
// How many jobs one reconcile pass reads, and how many at once.
const RECONCILE_MAX_PER_PASS = 1_000;
const RECONCILE_CONCURRENCY = 16;
// Job events record outcomes at once; this pass only catches the ones an instance lost in a crash.
const RECONCILE_INTERVAL_MS = 5_000;
const RETENTION_INTERVAL_MS = 60_000;

type SettleMode = 'poll' | 'cancel' | 'expire';

const FINAL_JOB_STATUSES: ReadonlySet<string> = new Set([
  'complete',
  'dead',
  'cancelled',
  'expired',
]);

/**
 * Runs batches: validates the input, submits each line as a job, records outcomes as jobs end
 * (from job events, and by reading jobs on a timer in case an event was lost), handles cancel
 * and expiry, and writes the output and error files. One instance works on a batch at a time
 * (a lease in the batch row); every step can be repeated after a crash.
 */
@Injectable()
export class BatchRunner implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(BatchRunner.name);
  private readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly working = new Map<string, Promise<void>>();
  private readonly reconcileCursor = new Map<string, number>();
  private readonly lastReconcileAt = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private again = false;
  private stopping = false;
  private lastRetentionAt = 0;
  private unsubscribe: (() => void) | undefined;
  private readonly outcomes: OutcomeWriter;

  constructor(
    private readonly batches: BatchesRepository,
    private readonly files: FilesService,
    private readonly submissions: JobSubmissionService,
    private readonly lifecycle: JobLifecycleService,
    private readonly jobs: JobsService,
    private readonly events: BatchEvents,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.outcomes = new OutcomeWriter(batches);
  }

  onApplicationBootstrap(): void {
    this.unsubscribe = this.lifecycle.onFinal((event) => this.onJobFinal(event));
    this.timer = setInterval(() => this.kick(), TICK_MS);
    this.timer.unref();
    this.kick();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    this.unsubscribe?.();
    await Promise.allSettled(this.working.values());
    await this.batches
      .releaseLeases(this.owner)
      .catch((error: Error) => this.logger.warn(`releasing batch leases: ${error.message}`));
  }

  /** Looks for work now rather than at the next tick. */
  kick(): void {
    if (this.stopping) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    void this.tick().finally(() => {
      this.ticking = false;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  /**
   * Records a batch line's outcome from its job's final event; repeated events change nothing.
   * The batch's next tick sees when its last line has ended.
   */
  async onJobFinal(event: JobFinalEvent): Promise<void> {
    // A cancelled line is recorded by whoever stopped it: the batch's cancel or expiry, which
    // knows which of the two it was, or else the next reconcile pass.
    if (!event.origin || event.status === 'cancelled') return;
    await this.record({
      status: event.status,
      jobId: event.jobId,
      resultBody: event.resultBody,
      lastUpstreamStatus: event.lastUpstreamStatus,
      errorMessage: event.view.error,
    });
  }

  private async tick(): Promise<void> {
    try {
      const ids = await this.batches.findOpenIds(100);
      for (const id of ids) {
        if (this.working.has(id) || this.stopping) continue;
        const work = this.work(id)
          .catch((error: Error) =>
            this.logger.warn({ msg: 'batch run failed', batchId: id, error: error.message }),
          )
          .finally(() => this.working.delete(id));
        this.working.set(id, work);
      }
      if (Date.now() - this.lastRetentionAt > RETENTION_INTERVAL_MS) {
        this.lastRetentionAt = Date.now();
        await this.batches.deleteExpired(100);
      }
    } catch (error) {
      this.logger.warn(`batch runner: ${(error as Error).message}`);
    }
  }

  private async work(id: string): Promise<void> {
    const batch = await this.batches.claim(id, this.owner, LEASE_MS);
    if (!batch) return;
    switch (batch.status) {
      case 'validating':
        return this.validate(batch);
      case 'in_progress':
        return this.advance(batch);
      case 'cancelling':
        return this.cancel(batch);
      case 'finalizing':
        return this.finalize(batch, 'completed');
      default:
        return;
    }
  }

  /** Checks every line before any runs; one bad line fails the batch, naming the line. */
  private async validate(batch: StoredBatch): Promise<void> {
    await this.batches.deleteLines(batch.id);
    const file = await this.files.get(batch.tenantId, batch.inputFileId).catch(() => null);
    if (!file) {
      await this.fail(batch, [
        {
          code: 'file_not_found',
          message: `Input file ${batch.inputFileId} no longer exists`,
          param: 'input_file_id',
          line: null,
        },
      ]);
      return;
    }
    const errors: BatchLineError[] = [];
    const seen = new Map<string, number>();
    let group: NewBatchLine[] = [];
    let total = 0;
    let model: string | null = null;
    for await (const { line, text } of readJsonlLines(this.files.content(file))) {
      if (this.stopping) return;
      const check = checkBatchLine(text, line, this.config.http.maxBodyBytes);
      if (!check.ok) {
        errors.push(check.error);
      } else if (seen.has(check.customId)) {
        errors.push({
          code: 'duplicate_custom_id',
          message: `Line ${line}: custom_id ${JSON.stringify(check.customId)} is also on line ${seen.get(check.customId)}`,
          param: 'custom_id',
          line,
        });
      } else {
        seen.set(check.customId, line);
        model ??= check.model;
        total++;
        if (errors.length === 0) {
          group.push({ line, customId: check.customId, jobId: batchLineJobId(batch.id, line) });
        }
      }
      if (errors.length >= MAX_VALIDATION_ERRORS) break;
      if (group.length >= INSERT_GROUP) {
        await this.batches.insertLines(batch.id, group);
        group = [];
        await this.batches.claim(batch.id, this.owner, LEASE_MS);
      }
    }
    if (errors.length === 0 && total === 0) {
      errors.push({
        code: 'empty_file',
        message: 'The input file has no lines',
        param: null,
        line: null,
      });
    }
    if (errors.length > 0) {
      await this.batches.deleteLines(batch.id);
      await this.fail(batch, errors);
      return;
    }
    await this.batches.insertLines(batch.id, group);
    const started = await this.batches.transition(batch.id, ['validating'], 'in_progress', {
      total,
      model,
    });
    // Cancelled while validating: the cancel step ends it.
    if (!started) {
      await this.batches.deleteLines(batch.id);
      return;
    }
    await this.advance(started);
  }

  private async fail(batch: StoredBatch, errors: BatchLineError[]): Promise<void> {
    const failed = await this.batches.finish(batch.id, ['validating'], 'failed', { errors });
    if (failed) await this.publish('failed', failed);
  }

  /** Submits what is left, reads outcomes the events missed, and finishes once every line has one. */
  private async advance(batch: StoredBatch): Promise<void> {
    if (batch.expiresAt.getTime() <= Date.now()) return this.expire(batch);
    if (batch.submittedThrough < ALL_SUBMITTED) {
      if (!(await this.submit(batch))) return;
      batch = (await this.batches.findById(batch.id)) ?? batch;
    }
    if (batch.completed + batch.failed < batch.total) {
      await this.reconcile(batch, 'poll');
      batch = (await this.batches.findById(batch.id)) ?? batch;
    }
    if (batch.status === 'in_progress' && batch.completed + batch.failed >= batch.total) {
      await this.finalize(batch, 'completed');
    }
  }

  /** Submits every line not yet submitted, in groups; false if the batch stopped meanwhile. */
  private async submit(batch: StoredBatch): Promise<boolean> {
    const file = await this.files.get(batch.tenantId, batch.inputFileId).catch(() => null);
    if (!file) {
      await this.batches.failLinesAfter(
        batch.id,
        batch.submittedThrough,
        JSON.stringify({ code: 'file_not_found', message: 'The input file was deleted' }),
      );
      return this.batches.markSubmitted(batch.id, ALL_SUBMITTED);
    }
    let group: { line: number; submission: JobSubmission }[] = [];
    const flush = async (): Promise<boolean> => {
      await this.submissions.submitMany(
        batch.tenantId,
        group.map(({ submission }) => submission),
      );
      const last = group[group.length - 1].line;
      group = [];
      if (!(await this.batches.markSubmitted(batch.id, last))) return false;
      return (await this.batches.claim(batch.id, this.owner, LEASE_MS)) !== null;
    };
    for await (const { line, text } of readJsonlLines(this.files.content(file))) {
      if (line <= batch.submittedThrough) continue;
      if (this.stopping) return false;
      const check = checkBatchLine(text, line, this.config.http.maxBodyBytes);
      if (!check.ok) continue;
      group.push({
        line,
        submission: {
          tenantId: batch.tenantId,
          jobId: batchLineJobId(batch.id, line),
          model: check.model,
          request: check.request,
          origin: { batchId: batch.id, customId: check.customId },
          expiresAt: batch.expiresAt.getTime(),
        },
      });
      if (group.length >= SUBMIT_GROUP && !(await flush())) return false;
    }
    if (group.length > 0 && !(await flush())) return false;
    return this.batches.markSubmitted(batch.id, ALL_SUBMITTED);
  }

  /** Cancels lines not yet started; running ones finish. Ends `cancelled` once all have ended. */
  private async cancel(batch: StoredBatch): Promise<void> {
    if (batch.inProgressAt === null) {
      // Cancelled while validating: nothing ran.
      await this.batches.deleteLines(batch.id);
      await this.finalize(batch, 'cancelled');
      return;
    }
    await this.batches.failLinesAfter(
      batch.id,
      this.possiblySubmitted(batch),
      BATCH_CANCELLED_ERROR,
    );
    await this.reconcile(batch, 'cancel');
    if ((await this.batches.countPending(batch.id)) === 0) await this.finalize(batch, 'cancelled');
  }

  /** Past the window: what finished stays, everything else ends `batch_expired`. */
  private async expire(batch: StoredBatch): Promise<void> {
    await this.batches.failLinesAfter(batch.id, this.possiblySubmitted(batch), BATCH_EXPIRED_ERROR);
    await this.reconcile(batch, 'expire');
    if ((await this.batches.countPending(batch.id)) === 0) await this.finalize(batch, 'expired');
  }

  /** Lines after this one were never submitted (submission records progress group by group). */
  private possiblySubmitted(batch: StoredBatch): number {
    return batch.submittedThrough >= ALL_SUBMITTED - SUBMIT_GROUP
      ? ALL_SUBMITTED
      : batch.submittedThrough + SUBMIT_GROUP;
  }

  /**
   * Reads the jobs of lines without an outcome and records final ones. `cancel` also cancels
   * queued jobs; `expire` cancels every unfinished job and records it `batch_expired`.
   */
  private async reconcile(batch: StoredBatch, mode: SettleMode): Promise<void> {
    if (mode === 'poll') {
      const last = this.lastReconcileAt.get(batch.id) ?? 0;
      if (Date.now() - last < RECONCILE_INTERVAL_MS) return;
      this.lastReconcileAt.set(batch.id, Date.now());
    }
    const through = this.possiblySubmitted(batch);
    let after = mode === 'poll' ? (this.reconcileCursor.get(batch.id) ?? 0) : 0;
    let read = 0;
    for (;;) {
      const lines = await this.batches.pendingLines(batch.id, after, through, RECONCILE_PAGE);
      if (lines.length === 0) {
        after = 0;
        break;
      }
      await forEachLimited(lines, RECONCILE_CONCURRENCY, (line) =>
        this.settleLine(batch, line, mode),
      );
      after = lines[lines.length - 1].line;
      read += lines.length;
      if (this.stopping) break;
      await this.batches.claim(batch.id, this.owner, LEASE_MS);
      if (mode === 'poll' && read >= RECONCILE_MAX_PER_PASS) break;
    }
    this.reconcileCursor.set(batch.id, after);
  }

  private async settleLine(batch: StoredBatch, line: PendingLine, mode: SettleMode): Promise<void> {
    const snapshot = await this.readJob(batch.tenantId, line.jobId);
    if (snapshot && FINAL_JOB_STATUSES.has(snapshot.view.status)) {
      await this.record(resultOf(line.jobId, snapshot));
      return;
    }
    if (mode === 'poll') return;
    // Never submitted (a crash before its group was recorded): nothing to stop.
    if (!snapshot) {
      await this.record(stopped(line.jobId, mode));
      return;
    }
    if (mode === 'cancel' && snapshot.view.status !== 'queued') return;
    const after = await this.jobs
      .cancel(batch.tenantId, line.jobId)
      .catch(() => this.readJob(batch.tenantId, line.jobId));
    if (after && (after.view.status === 'complete' || after.view.status === 'dead')) {
      await this.record(resultOf(line.jobId, after));
    } else if (mode === 'expire' || after?.view.status === 'cancelled') {
      await this.record(stopped(line.jobId, mode));
    }
  }

  private async readJob(tenantId: string, jobId: string): Promise<JobSnapshot | null> {
    try {
      return await this.jobs.get(tenantId, jobId);
    } catch {
      return null;
    }
  }

  private record(result: LineResult): Promise<void> {
    return this.outcomes.record(result.jobId, lineOutcome(result));
  }

  /** Writes the output and error files and ends the batch. */
  private async finalize(
    batch: StoredBatch,
    to: Exclude<FinalBatchStatus, 'failed'>,
  ): Promise<void> {
    let from: BatchStatus[];
    if (to === 'completed') {
      if (batch.status !== 'finalizing') {
        const moved = await this.batches.transition(batch.id, ['in_progress'], 'finalizing');
        if (!moved) return;
      }
      from = ['finalizing'];
    } else {
      from = to === 'cancelled' ? ['cancelling'] : ['in_progress'];
    }
    const counts = await this.batches.countOutcomes(batch.id);
    const outputFile =
      counts.completed > 0
        ? await this.files.createFromLines(
            batch.tenantId,
            'batch_output',
            `${batch.id}_output.jsonl`,
            this.batches.outputLines(batch.id, 'completed'),
          )
        : null;
    const errorFile =
      counts.failed > 0
        ? await this.files.createFromLines(
            batch.tenantId,
            'batch_output',
            `${batch.id}_error.jsonl`,
            this.batches.outputLines(batch.id, 'failed'),
          )
        : null;
    const done = await this.batches.finish(batch.id, from, to, {
      outputFileId: outputFile?.id ?? null,
      errorFileId: errorFile?.id ?? null,
    });
    this.reconcileCursor.delete(batch.id);
    this.lastReconcileAt.delete(batch.id);
    if (done) await this.publish(to, done);
  }

  private async publish(status: FinalBatchStatus, batch: StoredBatch): Promise<void> {
    await this.events.publish({
      type: `batch.${status}`,
      tenantId: batch.tenantId,
      batch: toBatchResponse(batch),
    });
  }
}

function resultOf(jobId: string, snapshot: JobSnapshot): LineResult {
  return {
    status: snapshot.view.status as LineResult['status'],
    jobId,
    resultBody: snapshot.resultBody,
    lastUpstreamStatus: snapshot.lastUpstreamStatus,
    errorMessage: snapshot.view.error,
  };
}

function stopped(jobId: string, mode: 'cancel' | 'expire'): LineResult {
  return {
    status: mode === 'cancel' ? 'cancelled' : 'expired',
    jobId,
    resultBody: null,
    lastUpstreamStatus: null,
    errorMessage: null,
  };
}

async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  action: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await action(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

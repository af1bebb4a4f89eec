import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import { isStoreUnreachable } from '../common/store-unreachable.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { DispatchService } from '../dispatch/dispatch.service.js';
import {
  FINAL_STATUSES,
  INFERENCE_QUEUE,
  type InferenceJobData,
  type InferenceJobResult,
} from './inference-queue.js';
import { JobEventsService } from './job-events.service.js';
import { toJobSnapshot, type JobSnapshot } from './job-view.mapper.js';

type InferenceJob = Job<InferenceJobData, InferenceJobResult>;

const JOB_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_DEAD_LETTER_SCAN = 5_000;
// How long a cancel waits for a running attempt to stop before answering.
const CANCEL_SETTLE_MS = 2_000;
const FINAL_STATES: ReadonlySet<string> = new Set(['completed', 'failed']);
// A job moving on at every read is rare; after this many reads the last pair is good enough.
const MAX_CONSISTENT_READS = 3;

export interface DeadLetterQuery {
  tenantId?: string;
  model?: string;
  limit: number;
  cursor: number;
}

export interface DeadLetter {
  snapshot: JobSnapshot;
  tenantId: string;
  request: string;
}

export interface QueueCounts {
  queued: number;
  processing: number;
  retrying: number;
  complete: number;
  dead: number;
}

/** Reads, cancels and administers jobs; the producer alone adds them. */
@Injectable()
export class JobsService {
  constructor(
    @InjectQueue(INFERENCE_QUEUE)
    private readonly queue: Queue<InferenceJobData, InferenceJobResult>,
    private readonly events: JobEventsService,
    private readonly dispatch: DispatchService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The job as its tenant sees it; 404 for unknown, foreign, malformed or expired ids. */
  async get(tenantId: string, jobId: string): Promise<JobSnapshot> {
    const found = await this.load(jobId);
    if (!found || found.job.data.tenantId !== tenantId) throw jobNotFound(jobId);
    return this.withQueuePosition(found);
  }

  /** A parked job waiting for a slot gets its place in its tenant's line. */
  private async withQueuePosition(found: {
    job: InferenceJob;
    snapshot: JobSnapshot;
  }): Promise<JobSnapshot> {
    const { job, snapshot } = found;
    if (snapshot.view.status !== 'queued') return snapshot;
    const position = await this.dispatch
      .queuePosition(job.data.tenantId, job.data.lane ?? 'interactive', job.id!)
      .catch(() => null);
    return { ...snapshot, view: { ...snapshot.view, queue_position: position } };
  }

  /**
   * Cancels a queued or running job. A running attempt is aborted on whichever instance runs it;
   * if it finished first, the cancel is refused as for any complete job.
   */
  async cancel(tenantId: string, jobId: string): Promise<JobSnapshot> {
    const found = await this.load(jobId);
    if (!found || found.job.data.tenantId !== tenantId) throw jobNotFound(jobId);
    const { job, snapshot } = found;
    if (snapshot.view.status === 'cancelled') return snapshot;
    if (FINAL_STATUSES.has(snapshot.view.status)) throw notCancellable(snapshot);
    // Recorded on the job first, so no instance starts or retries it from now on.
    await job.updateData({ ...job.data, cancelRequestedAt: Date.now() });
    const settled = this.settle(jobId);
    await this.events.requestCancel(jobId);
    const state = await job.getState();
    if (state === 'delayed') {
      // Out of its tenant's line at once; a worker ends it cancelled without a backend call.
      await this.dispatch.forget(jobId);
      await job.promote().catch(() => undefined);
    }
    if (state === 'active') await settled.wait;
    settled.cancel();
    const after = await this.load(jobId);
    if (!after) throw jobNotFound(jobId);
    if (after.snapshot.view.status !== 'cancelled') throw notCancellable(after.snapshot);
    return after.snapshot;
  }

  async listDeadLetters(
    query: DeadLetterQuery,
  ): Promise<{ items: DeadLetter[]; nextCursor: number | null }> {
    const items: DeadLetter[] = [];
    const pageSize = 200;
    let offset = query.cursor;
    // A filter that matches little must not read the whole failed set in one request: past
    // this many, the page ends early and its cursor says where to go on.
    const scanEnd = query.cursor + MAX_DEAD_LETTER_SCAN;
    while (items.length < query.limit && offset < scanEnd) {
      const page = await this.queue.getFailed(offset, offset + pageSize - 1);
      if (page.length === 0) return { items, nextCursor: null };
      for (const [index, job] of page.entries()) {
        if (!job) continue;
        const status = toJobSnapshot(job, 'failed').view.status;
        if (status !== 'dead') continue;
        if (query.tenantId && job.data.tenantId !== query.tenantId) continue;
        if (query.model && job.data.model !== query.model) continue;
        const snapshot = toJobSnapshot(job, 'failed');
        if (this.isExpired(snapshot)) continue;
        items.push({
          snapshot,
          tenantId: job.data.tenantId,
          request: job.data.request,
        });
        if (items.length === query.limit) return { items, nextCursor: offset + index + 1 };
      }
      offset += page.length;
    }
    return { items, nextCursor: offset };
  }

  /** Puts a dead job back in the queue with its retry count reset. */
  async requeueDead(jobId: string): Promise<JobSnapshot> {
    const found = await this.load(jobId);
    if (!found) throw jobNotFound(jobId);
    if (found.snapshot.view.status !== 'dead') {
      throw new AppError(
        ErrorCode.Conflict,
        `Job ${jobId} is ${found.snapshot.view.status}, not dead`,
      );
    }
    await found.job.updateProgress({});
    // Runnable again: the worker that picks it finds no lease and puts it in its tenant's line.
    await found.job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return (await this.load(jobId))!.snapshot;
  }

  async delete(jobId: string): Promise<void> {
    const found = await this.load(jobId);
    if (!found) throw jobNotFound(jobId);
    try {
      await found.job.remove();
    } catch (error) {
      if (isStoreUnreachable(error)) throw error;
      throw new AppError(ErrorCode.Conflict, `Job ${jobId} is running; cancel it first`, {
        cause: error,
      });
    }
  }

  async counts(): Promise<QueueCounts> {
    const counts = await this.queue.getJobCounts(
      'waiting',
      'prioritized',
      'active',
      'delayed',
      'completed',
      'failed',
    );
    const retrying = await this.dispatch.retryingCount();
    return {
      // Parked jobs are delayed in BullMQ's terms: waiting for a slot or for their retry time.
      queued: (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0) - retrying,
      processing: counts.active ?? 0,
      retrying,
      complete: counts.completed ?? 0,
      dead: counts.failed ?? 0,
    };
  }

  private async load(jobId: string): Promise<{ job: InferenceJob; snapshot: JobSnapshot } | null> {
    if (!JOB_ID_PATTERN.test(jobId)) return null;
    // State first, then the job: a final state never changes back, so a job read after it can
    // only be newer. (The other order can pair a fresh "failed" with a stale failedReason.)
    let state = await this.queue.getJobState(jobId);
    for (let reads = 1; ; reads++) {
      if (state === 'unknown') return null;
      const job = await this.queue.getJob(jobId);
      if (!job) return null;
      // A job that is not final may have moved on between the two reads (an attempt that failed
      // reads as "processing" with the new retry count); read again until both agree.
      const stateAfter = FINAL_STATES.has(state) ? state : await this.queue.getJobState(jobId);
      if (stateAfter === state || reads === MAX_CONSISTENT_READS) {
        const snapshot = toJobSnapshot(job, state);
        return this.isExpired(snapshot) ? null : { job, snapshot };
      }
      state = stateAfter;
    }
  }

  private isExpired(snapshot: JobSnapshot): boolean {
    if (snapshot.finishedAtMs === null) return false;
    const ttlS =
      snapshot.view.status === 'dead'
        ? this.config.retention.deadTtlS
        : this.config.retention.resultTtlS;
    return Date.now() - snapshot.finishedAtMs > ttlS * 1000;
  }

  /** Resolves `wait` when the job ends (or after a short grace); `cancel` stops listening. */
  private settle(jobId: string): { wait: Promise<void>; cancel: () => void } {
    let cancel = (): void => undefined;
    const wait = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CANCEL_SETTLE_MS);
      const unsubscribe = this.events.onFinished(jobId, () => resolve());
      const stopResync = this.events.onResync(() => resolve());
      cancel = () => {
        clearTimeout(timer);
        unsubscribe();
        stopResync();
        resolve();
      };
    });
    return { wait, cancel };
  }

  /** The state of a job by id, for reconciling concurrency slots. */
  async stateOf(jobId: string): Promise<string> {
    return this.queue.getJobState(jobId);
  }
}

const jobNotFound = (jobId: string) => new AppError(ErrorCode.JobNotFound, `No job ${jobId}`);

const notCancellable = (snapshot: JobSnapshot) =>
  new AppError(
    ErrorCode.JobNotCancellable,
    `Job ${snapshot.view.id} is already ${snapshot.view.status} and cannot be cancelled`,
  );

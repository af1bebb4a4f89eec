import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { DelayedError, Job, UnrecoverableError } from 'bullmq';
import { setTimeout as delay } from 'node:timers/promises';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AttemptEnd } from '../dispatch/dispatch-store.js';
import { DispatchService, FRESH_CLAIM_MS, tokensOf } from '../dispatch/dispatch.service.js';
import {
  ChatCompletionsClient,
  type ChatCompletionAnswer,
  type NodePlacement,
} from '../upstream/chat-completions.client.js';
import { UpstreamFailureError, type UpstreamFailure } from '../upstream/upstream-failure.js';
import {
  INFERENCE_QUEUE,
  PARK_MS,
  type InferenceJobData,
  type InferenceJobProgress,
  type InferenceJobResult,
} from './inference-queue.js';
import {
  CANCELLED_REASON,
  EXPIRED_REASON,
  isCancelRequested,
  isExpired,
} from './job-cancellation.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { JobEventsService } from './job-events.service.js';
import { JobLifecycleService } from './job-lifecycle.service.js';
import { toJobSnapshot } from './job-view.mapper.js';
import { decideRetry } from './retry-policy.js';

type InferenceJob = Job<InferenceJobData, InferenceJobResult>;

/** A failed attempt; BullMQ parks the job until the dispatcher releases it at its retry time. */
export class RetryableAttemptError extends Error {
  override readonly name = 'RetryableAttemptError';
}

/** How one attempt ended; `settle` turns each into exactly one queue transition. */
type AttemptOutcome =
  | { kind: 'complete'; answer: ChatCompletionAnswer }
  | { kind: 'retry'; failure: UpstreamFailure; message: string; delayMs: number }
  | { kind: 'dead'; failure: UpstreamFailure; message: string }
  | { kind: 'cancelled' }
  | { kind: 'expired' }
  | { kind: 'hand-back' };

// Aborts this worker's attempts when the process stops: the jobs go back to their place in line.
const SHUTDOWN_REASON = 'worker shutting down';

// A cancel request can overtake the job's start on another instance; remember it this long.
const CANCEL_MEMORY_MS = 60_000;

// The dispatcher keeps time by its store's clock; a retry released this much before this
// process's clock says it is due is not early.
const CLOCK_TOLERANCE_MS = 1_000;

@Processor(INFERENCE_QUEUE, {
  settings: {
    // Every retry's delay is decided by retry-policy.ts and kept by the dispatcher, which
    // releases the job when it is due: until then BullMQ keeps it parked.
    backoffStrategy: () => PARK_MS,
  },
  // A worker that dies loses its lock after 15 s; live workers look for such jobs every 5 s.
  lockDuration: 15_000,
  stalledInterval: 5_000,
  // Jobs stalled by crashed workers go back to the queue; only a job that keeps killing them dies.
  maxStalledCount: 20,
})
export class InferenceProcessor
  extends WorkerHost
  implements OnApplicationBootstrap, OnModuleDestroy
{
  private readonly logger = new Logger(InferenceProcessor.name);
  private readonly recentlyCancelled = new Map<string, number>();
  /** What each recorded attempt means for the dispatcher, read once the queue has recorded it. */
  private readonly ends = new Map<string, AttemptEnd>();
  private unsubscribes: (() => void)[] = [];
  private shuttingDown = false;
  /** Each run in progress in this process, and its job. */
  private readonly running = new Map<Promise<unknown>, InferenceJob>();

  constructor(
    private readonly upstream: ChatCompletionsClient,
    private readonly events: JobEventsService,
    private readonly dispatch: DispatchService,
    private readonly lifecycle: JobLifecycleService,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super();
  }

  onApplicationBootstrap(): void {
    this.worker.concurrency = this.config.workerConcurrency;
    this.worker.on('error', (error) => this.logger.warn(`worker: ${error.message}`));
    // The lease is freed only after the queue recorded the outcome: a crash in between leaves
    // a lease that runs out, never a job that runs twice at once or a result lost.
    this.worker.on('completed', (job: InferenceJob) => void this.recorded(job, 'completed'));
    this.worker.on('failed', (job: InferenceJob | undefined) => {
      if (job) void this.recorded(job, 'failed');
    });
    this.unsubscribes = [
      this.events.onCancelRequested((jobId) => this.cancel(jobId)),
      this.events.onResync(() => void this.recheckCancels()),
    ];
  }

  async onModuleDestroy(): Promise<void> {
    for (const unsubscribe of this.unsubscribes) unsubscribe();
    this.shuttingDown = true;
    // Take no new job; let the running calls finish for a while (a call stopped now would be
    // made again elsewhere: a duplicate for the backend), then hand back what still runs.
    const paused = this.worker.pause(true);
    await this.settled(this.config.shutdownDrainMs);
    this.worker.cancelAllJobs(SHUTDOWN_REASON);
    await paused;
    // A fetch already under way when the worker paused can still deliver a job: it is handed
    // back too, so wait until nothing is running.
    for (let round = 0; round < 10 && this.running.size > 0; round++) {
      await Promise.allSettled(this.running.keys());
    }
  }

  /** Resolves once no job runs, or after `ms`. */
  private async settled(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (this.running.size > 0 && Date.now() < until) {
      const timer = delay(until - Date.now(), undefined, { ref: false });
      await Promise.race([Promise.allSettled(this.running.keys()), timer]);
    }
  }

  async process(
    job: InferenceJob,
    token?: string,
    signal?: AbortSignal,
  ): Promise<InferenceJobResult> {
    const run = this.run(job, token, signal ?? new AbortController().signal);
    this.running.set(run, job);
    try {
      return await run;
    } finally {
      this.running.delete(run);
    }
  }

  private async run(job: InferenceJob, token: string | undefined, signal: AbortSignal) {
    if (this.isCancelled(job)) return this.settle(job, token, { kind: 'cancelled' });
    if (isExpired(job)) return this.settle(job, token, { kind: 'expired' });
    if (this.shuttingDown) return this.park(job, token);
    const placement = await this.dispatch.begin(job.id!, freshClaimOf(job));
    // Not handed out by the dispatcher (e.g. a stalled job whose lease ran out): back in line,
    // and this is no attempt.
    if (!placement) return this.park(job, token);
    // A retry handed out before its time: its process died after the queue recorded the failed
    // attempt but before the dispatcher heard of the retry. It waits for its time, holding nothing.
    const retryAt = earlyRetryAt(job);
    if (retryAt !== undefined) return this.deferRetry(job, token, retryAt);
    return this.settle(job, token, await this.attempt(job, placement, signal));
  }

  private async attempt(
    job: InferenceJob,
    placement: NodePlacement,
    signal: AbortSignal,
  ): Promise<AttemptOutcome> {
    // The deadline may have passed while the lease was taken.
    if (isExpired(job)) return { kind: 'expired' };
    const { expiresAt } = job.data;
    const deadline =
      expiresAt === undefined
        ? undefined
        : AbortSignal.timeout(Math.max(0, expiresAt - Date.now()));
    const abort = deadline ? AbortSignal.any([signal, deadline]) : signal;
    try {
      const answer = await this.upstream.complete(
        job.data.request,
        job.data.model,
        abort,
        placement,
        job.id,
      );
      return this.isCancelled(job) ? { kind: 'cancelled' } : { kind: 'complete', answer };
    } catch (error) {
      if (this.isCancelled(job)) return { kind: 'cancelled' };
      if (deadline?.aborted) return { kind: 'expired' };
      // Stopped by the end of the shutdown drain: not an attempt.
      if (this.shuttingDown && signal.aborted) return { kind: 'hand-back' };
      const failure: UpstreamFailure =
        error instanceof UpstreamFailureError
          ? error.failure
          : {
              kind: 'invalid_response',
              node: '',
              message: `infq error: ${(error as Error).message}`,
            };
      const message = error instanceof Error ? error.message : String(error);
      const decision = decideRetry(failure, job.attemptsMade, this.config.retry);
      return decision.retry
        ? { kind: 'retry', failure, message, delayMs: decision.delayMs }
        : { kind: 'dead', failure, message };
    }
  }

  /** The one place an attempt's outcome becomes a queue transition. */
  private async settle(
    job: InferenceJob,
    token: string | undefined,
    outcome: AttemptOutcome,
  ): Promise<InferenceJobResult> {
    const jobId = job.id!;
    switch (outcome.kind) {
      case 'complete':
        // Charged when the lease ends, after the completion is recorded: exactly once.
        this.ends.set(jobId, { kind: 'final', tokens: outcome.answer.totalTokens });
        return outcome.answer;
      case 'retry': {
        const due = Date.now() + outcome.delayMs;
        // A deadline before the retry time: the job is released then, and ends expired.
        const dueAt = Math.min(due, job.data.expiresAt ?? due);
        await job.updateProgress(progressOf(outcome.failure, outcome.message, due));
        this.ends.set(jobId, { kind: 'retry', dueAt });
        throw new RetryableAttemptError(outcome.message);
      }
      case 'dead':
        await job.updateProgress(progressOf(outcome.failure, outcome.message));
        this.ends.set(jobId, { kind: 'final' });
        throw new UnrecoverableError(outcome.message);
      case 'cancelled':
        this.ends.set(jobId, { kind: 'final' });
        throw new UnrecoverableError(CANCELLED_REASON);
      case 'expired':
        this.ends.set(jobId, { kind: 'final' });
        throw new UnrecoverableError(EXPIRED_REASON);
      case 'hand-back':
        return this.park(job, token);
    }
  }

  /** Back to its place in its tenant's line, parked; not an attempt. */
  private async park(job: InferenceJob, token: string | undefined): Promise<never> {
    // Its next run starts on whatever lease the dispatcher gives it then.
    if (job.data.claimedNode !== undefined) {
      await job.updateData({ ...job.data, claimedNode: undefined });
    }
    await job.moveToDelayed(Date.now() + PARK_MS, token);
    await this.dispatch.requeue(
      job.id!,
      { tenantId: job.data.tenantId, maxConcurrent: 1, weight: 1 },
      job.data.lane ?? 'interactive',
      job.data.model,
    );
    throw new DelayedError();
  }

  /** Parked again until its retry time, which the dispatcher keeps; not an attempt. */
  private async deferRetry(
    job: InferenceJob,
    token: string | undefined,
    retryAt: number,
  ): Promise<never> {
    await job.moveToDelayed(Date.now() + PARK_MS, token);
    const dueAt = Math.min(retryAt, job.data.expiresAt ?? retryAt);
    await this.dispatch.finish(job.id!, { kind: 'retry', dueAt });
    throw new DelayedError();
  }

  /** After the queue recorded an attempt's outcome: the lease ends, a final job is announced. */
  private async recorded(job: InferenceJob, state: 'completed' | 'failed'): Promise<void> {
    const jobId = job.id!;
    const end = this.ends.get(jobId) ?? (await this.endOf(job));
    this.ends.delete(jobId);
    if (end.kind !== 'final') {
      this.metrics.jobRetried();
      await this.dispatch.finish(jobId, end);
      return;
    }
    this.events.announceFinished({ jobId, outcome: state });
    const snapshot = toJobSnapshot(job, state);
    const status = snapshot.view.status;
    // Counted as soon as the outcome is recorded, before the store round trip.
    if (status !== 'queued' && status !== 'processing') this.metrics.jobFinished(status);
    await this.dispatch.finish(jobId, end);
    if (status === 'queued' || status === 'processing') return;
    await this.lifecycle.publishFinal({
      jobId,
      tenantId: job.data.tenantId,
      status,
      view: snapshot.view,
      resultBody: snapshot.resultBody,
      lastUpstreamStatus: snapshot.lastUpstreamStatus,
      origin: job.data.origin ?? null,
      requestBytes: Buffer.byteLength(job.data.request),
    });
  }

  /**
   * What an attempt that ended without an outcome (it threw unexpectedly) means: BullMQ parked
   * it for a retry, which the dispatcher then releases after the base delay; or it is final.
   */
  private async endOf(job: InferenceJob): Promise<AttemptEnd> {
    const state = await job.getState().catch(() => 'unknown');
    return state === 'delayed'
      ? { kind: 'retry', dueAt: Date.now() + this.config.retry.baseMs }
      : { kind: 'final', tokens: tokensOf(job.returnvalue) };
  }

  private cancel(jobId: string): void {
    const now = Date.now();
    this.recentlyCancelled.set(jobId, now);
    for (const [id, at] of this.recentlyCancelled) {
      if (now - at < CANCEL_MEMORY_MS) break;
      this.recentlyCancelled.delete(id);
    }
    this.worker.cancelJob(jobId, CANCELLED_REASON);
  }

  /** Cancel requests may have passed unheard: each running job's own record says. */
  private async recheckCancels(): Promise<void> {
    for (const { id } of [...this.running.values()]) {
      if (id === undefined) continue;
      const stored = await Job.fromId<InferenceJobData>(this.worker, id).catch(() => undefined);
      if (stored && isCancelRequested(stored)) this.cancel(id);
    }
  }

  private isCancelled(job: InferenceJob): boolean {
    return isCancelRequested(job, this.recentlyCancelled, job.id);
  }
}

/** Stored as the job's progress: what the last failed attempt said and when the next one runs. */
function progressOf(
  failure: UpstreamFailure,
  message: string,
  nextRetryAt?: number,
): InferenceJobProgress {
  return {
    lastError: { status: failure.kind === 'http' ? failure.status : null, message },
    ...(nextRetryAt !== undefined && { nextRetryAt }),
  };
}

/**
 * The node of the lease a job took on the dispatcher's fast path, when this is its first run and
 * the lease is fresh enough to need no check (a stalled or late job asks the store).
 */
function freshClaimOf(job: InferenceJob): string | undefined {
  const { claimedNode } = job.data;
  if (claimedNode === undefined || job.attemptsMade > 0 || job.stalledCounter > 0) return undefined;
  return Date.now() - job.timestamp < FRESH_CLAIM_MS ? claimedNode : undefined;
}

/** When a retried job that reached a worker is due, if that is still ahead; else undefined. */
function earlyRetryAt(job: InferenceJob): number | undefined {
  const progress = (typeof job.progress === 'object' ? job.progress : {}) as InferenceJobProgress;
  const retryAt = progress.nextRetryAt;
  if (job.attemptsMade === 0 || retryAt === undefined) return undefined;
  return retryAt > Date.now() + CLOCK_TOLERANCE_MS ? retryAt : undefined;
}

import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { UnrecoverableError, WaitingError, type Job } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { LimitsService } from '../limits/limits.service.js';
import { ChatCompletionsClient } from '../upstream/chat-completions.client.js';
import { UpstreamFailureError } from '../upstream/upstream-failure.js';
import {
  CANCELLED_REASON,
  INFERENCE_QUEUE,
  type InferenceJobData,
  type InferenceJobProgress,
  type InferenceJobResult,
} from './inference-queue.js';
import { JobEventsService } from './job-events.service.js';
import { decideRetry } from './retry-policy.js';

/** A failed attempt that should be tried again after `delayMs`. */
export class RetryableAttemptError extends Error {
  override readonly name = 'RetryableAttemptError';
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
  }
}

// Aborts this worker's attempts when the process stops: the jobs go back to the queue unharmed.
const SHUTDOWN_REASON = 'worker shutting down';

// A cancel request can overtake the job's start on another instance; remember it this long.
const CANCEL_MEMORY_MS = 60_000;

@Processor(INFERENCE_QUEUE, {
  settings: {
    // The delay was decided by retry-policy.ts when the attempt failed.
    backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) =>
      error instanceof RetryableAttemptError
        ? error.delayMs
        : Math.min(1000 * 2 ** attemptsMade, 60_000),
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
  private unsubscribe: (() => void) | undefined;
  private shuttingDown = false;
  private readonly running = new Set<Promise<unknown>>();

  constructor(
    private readonly upstream: ChatCompletionsClient,
    private readonly events: JobEventsService,
    private readonly limits: LimitsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super();
  }

  onApplicationBootstrap(): void {
    this.worker.concurrency = this.config.workerConcurrency;
    this.worker.on('error', (error) => this.logger.warn(`worker: ${error.message}`));
    this.unsubscribe = this.events.onCancelRequested((jobId) => this.cancel(jobId));
  }

  async onModuleDestroy(): Promise<void> {
    this.unsubscribe?.();
    this.shuttingDown = true;
    // Take no new job (a handed-back one would come straight back), then hand back the running
    // ones: without this, closing the worker would wait for every backend call.
    const paused = this.worker.pause(true);
    this.worker.cancelAllJobs(SHUTDOWN_REASON);
    await paused;
    // A fetch already under way when the worker paused can still deliver a job: it is handed
    // back too, so wait until nothing is running.
    for (let round = 0; round < 10 && this.running.size > 0; round++) {
      await Promise.allSettled(this.running);
    }
  }

  async process(
    job: Job<InferenceJobData, InferenceJobResult>,
    token?: string,
    signal?: AbortSignal,
  ): Promise<InferenceJobResult> {
    const attempt = this.attempt(job, token, signal);
    this.running.add(attempt);
    try {
      return await attempt;
    } finally {
      this.running.delete(attempt);
    }
  }

  private async attempt(
    job: Job<InferenceJobData, InferenceJobResult>,
    token: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<InferenceJobResult> {
    if (this.isCancelled(job)) return this.endCancelled(job);
    if (this.shuttingDown) return this.handBack(job, token);
    const abort = signal ?? new AbortController().signal;
    try {
      const answer = await this.upstream.complete(job.data.request, job.data.model, abort, job.id);
      if (this.isCancelled(job)) return this.endCancelled(job);
      // Freed before BullMQ marks the job complete: a client that sees it final may submit again.
      await this.limits.release(job.data.tenantId, job.id!, answer.totalTokens);
      return answer;
    } catch (error) {
      if (this.isCancelled(job)) return this.endCancelled(job);
      if (this.shuttingDown) return this.handBack(job, token);
      if (!(error instanceof UpstreamFailureError)) throw error;
      const { failure } = error;
      const decision = decideRetry(failure, job.attemptsMade, this.config.retry);
      const progress: InferenceJobProgress = {
        lastError: {
          status: failure.kind === 'http' ? failure.status : null,
          message: error.message,
        },
        ...(decision.retry && { nextRetryAt: Date.now() + decision.delayMs }),
      };
      await job.updateProgress(progress);
      if (decision.retry) throw new RetryableAttemptError(error.message, decision.delayMs);
      await this.limits.release(job.data.tenantId, job.id!);
      throw new UnrecoverableError(error.message);
    }
  }

  /** Back to the queue without spending a retry; another worker (or this one, restarted) runs it. */
  private async handBack(job: Job<InferenceJobData>, token: string | undefined): Promise<never> {
    await job.moveToWait(token).catch((moveError: Error) => {
      // Left active, the job is found stalled once its lock lapses, and runs again then.
      this.logger.warn(`job ${job.id} left for stall recovery: ${moveError.message}`);
    });
    throw new WaitingError();
  }

  private async endCancelled(job: Job<InferenceJobData>): Promise<never> {
    await this.limits.release(job.data.tenantId, job.id!);
    throw new UnrecoverableError(CANCELLED_REASON);
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

  private isCancelled(job: Job<InferenceJobData>): boolean {
    return job.data.cancelRequestedAt !== undefined || this.recentlyCancelled.has(job.id!);
  }
}

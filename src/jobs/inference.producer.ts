import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable } from '@nestjs/common';
import type { Job, JobsOptions, Queue } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { DispatchTenant, JobLane } from '../dispatch/dispatch-store.js';
import { DispatchService } from '../dispatch/dispatch.service.js';
import {
  CHAT_COMPLETION_JOB,
  INFERENCE_QUEUE,
  PARK_MS,
  type InferenceJobData,
} from './inference-queue.js';

/**
 * The only place jobs are added to the queue. Job ids are random UUIDs (the admission id), or
 * derived ids for batch lines. While the pool has room and nothing waits, a job takes its lease
 * first and is added runnable; otherwise it is added parked and listed, and the dispatcher
 * releases it when its tenant has a free slot and a node has room.
 */
@Injectable()
export class InferenceProducer {
  constructor(
    @InjectQueue(INFERENCE_QUEUE) private readonly queue: Queue<InferenceJobData>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly dispatch: DispatchService,
  ) {}

  /**
   * Adds job `jobId` (once, however often called) and resolves once it is stored durably and
   * in the dispatcher's hands. Throws only if the queue did not take it. `claimed`: the outcome
   * of a fast-path claim already tried at admission (see `Admission.claimedNode`).
   */
  async enqueue(
    jobId: string,
    data: InferenceJobData,
    tenant: DispatchTenant,
    claimed?: string | null,
  ): Promise<Job<InferenceJobData>> {
    const lane = data.lane ?? 'interactive';
    // Batch lines (whose ids repeat when a batch is resumed) always take turns in their list.
    const claimedNode =
      claimed !== undefined
        ? claimed
        : lane === 'interactive'
          ? await this.dispatch.claim(jobId, tenant, lane, data.model)
          : null;
    let job: Job<InferenceJobData>;
    try {
      job = await this.add(jobId, claimedNode === null ? data : { ...data, claimedNode });
    } catch (error) {
      if (claimedNode !== null) await this.dispatch.finish(jobId, { kind: 'final' });
      throw error;
    }
    if (claimedNode === null) await this.dispatch.enqueue(jobId, tenant, lane, data.model);
    return job;
  }

  /**
   * `enqueue` for jobs of one tenant that never take the fast path (a batch's lines): added
   * parked in one queue call, then listed in one store call.
   */
  async enqueueMany(
    jobs: readonly { jobId: string; data: InferenceJobData }[],
    tenant: DispatchTenant,
    lane: JobLane,
  ): Promise<void> {
    await this.queue.addBulk(
      jobs.map(({ jobId, data }) => ({
        name: CHAT_COMPLETION_JOB,
        data,
        opts: this.options(jobId, data),
      })),
    );
    await this.dispatch.enqueueMany(
      jobs.map(({ jobId, data }) => ({ jobId, model: data.model })),
      tenant,
      lane,
    );
  }

  private add(jobId: string, data: InferenceJobData) {
    return this.queue.add(CHAT_COMPLETION_JOB, data, this.options(jobId, data));
  }

  private options(jobId: string, data: InferenceJobData): JobsOptions {
    const { retry, retention } = this.config;
    return {
      jobId,
      // Parked until dispatched, unless leased already: waiting for a slot is not an attempt.
      ...(data.claimedNode === undefined && { delay: PARK_MS }),
      attempts: retry.maxRetries + 1,
      // Each retry's delay is decided by retry-policy.ts and kept by the dispatcher.
      backoff: { type: 'custom' },
      // BullMQ prunes finished jobs lazily; reads also check these ages, so expiry is exact.
      removeOnComplete: { age: retention.resultTtlS },
      removeOnFail: { age: retention.deadTtlS },
    };
  }
}

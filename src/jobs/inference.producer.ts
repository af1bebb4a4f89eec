import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { CHAT_COMPLETION_JOB, INFERENCE_QUEUE, type InferenceJobData } from './inference-queue.js';

/** The only place jobs are added to the queue. Job ids are random UUIDs (the admission id). */
@Injectable()
export class InferenceProducer {
  constructor(
    @InjectQueue(INFERENCE_QUEUE) private readonly queue: Queue<InferenceJobData>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Adds job `jobId` and resolves once the backend has stored it durably. */
  async enqueue(jobId: string, data: InferenceJobData): Promise<void> {
    const { retry, retention } = this.config;
    await this.queue.add(CHAT_COMPLETION_JOB, data, {
      jobId,
      attempts: retry.maxRetries + 1,
      // The delay is computed per failure by retry-policy.ts and carried on the error.
      backoff: { type: 'custom' },
      // BullMQ prunes finished jobs lazily; reads also check these ages, so expiry is exact.
      removeOnComplete: { age: retention.resultTtlS },
      removeOnFail: { age: retention.deadTtlS },
    });
  }
}

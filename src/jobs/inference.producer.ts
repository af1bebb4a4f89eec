import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import {
  CHAT_COMPLETION_JOB,
  INFERENCE_QUEUE,
  PARK_MS,
  type InferenceJobData,
} from './inference-queue.js';

/**
 * The only place jobs are added to the queue. Job ids are random UUIDs (the admission id), or
 * derived ids for batch lines. Jobs are added parked: the dispatcher releases each when its
 * tenant has a free slot and a node has room.
 */
@Injectable()
export class InferenceProducer {
  constructor(
    @InjectQueue(INFERENCE_QUEUE) private readonly queue: Queue<InferenceJobData>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Adds job `jobId` (once, however often called) and resolves once it is stored durably. */
  async enqueue(jobId: string, data: InferenceJobData): Promise<Job<InferenceJobData>> {
    const { retry, retention } = this.config;
    return this.queue.add(CHAT_COMPLETION_JOB, data, {
      jobId,
      // Parked until dispatched: waiting for a slot is not an attempt.
      delay: PARK_MS,
      attempts: retry.maxRetries + 1,
      // Each retry's delay is decided by retry-policy.ts and kept by the dispatcher.
      backoff: { type: 'custom' },
      // BullMQ prunes finished jobs lazily; reads also check these ages, so expiry is exact.
      removeOnComplete: { age: retention.resultTtlS },
      removeOnFail: { age: retention.deadTtlS },
    });
  }
}

import {
  Inject,
  Injectable,
  Logger,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type { QueueEvents, QueueEventsProducer } from 'bullmq';
import { EventEmitter } from 'node:events';
import { CANCEL_REQUESTED_EVENT, INFERENCE_QUEUE } from './inference-queue.js';
import type { QueueBackend } from './queue-backend.js';

export const QUEUE_BACKEND = Symbol('QUEUE_BACKEND');

/** A job reached a final state somewhere in the cluster. */
export interface JobFinishedEvent {
  jobId: string;
  outcome: 'completed' | 'failed';
}

/**
 * The queue's event stream, shared by everything in this process: job endings (for waiting
 * clients) and cancel requests (for workers). Works the same on both backends.
 */
@Injectable()
export class JobEventsService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(JobEventsService.name);
  private readonly emitter = new EventEmitter();
  private events!: QueueEvents;
  private producer!: QueueEventsProducer;

  constructor(@Inject(QUEUE_BACKEND) private readonly backend: QueueBackend) {
    // One listener per waiting request: there may be thousands.
    this.emitter.setMaxListeners(0);
  }

  async onModuleInit(): Promise<void> {
    const { QueueEvents, QueueEventsProducer } = this.backend.classes;
    this.events = new QueueEvents(INFERENCE_QUEUE, { ...this.backend.listenerOptions });
    this.producer = new QueueEventsProducer(INFERENCE_QUEUE, { ...this.backend.options });
    this.events.on('error', (error) => this.logger.warn(`queue events: ${error.message}`));
    this.events.on('completed', ({ jobId }) => this.finished({ jobId, outcome: 'completed' }));
    this.events.on('failed', ({ jobId }) => this.finished({ jobId, outcome: 'failed' }));
    this.events.on(CANCEL_REQUESTED_EVENT as 'error', (args: unknown) => {
      const jobId = (args as { jobId?: unknown }).jobId;
      if (typeof jobId === 'string') this.emitter.emit(CANCEL_REQUESTED_EVENT, jobId);
    });
    await Promise.all([this.events.waitUntilReady(), this.producer.waitUntilReady()]);
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.allSettled([this.events.close(), this.producer.close()]);
  }

  /** Tells every instance to abort `jobId` if it is running it. */
  async requestCancel(jobId: string): Promise<void> {
    await this.producer.publishEvent({ eventName: CANCEL_REQUESTED_EVENT, jobId });
  }

  onCancelRequested(listener: (jobId: string) => void): () => void {
    this.emitter.on(CANCEL_REQUESTED_EVENT, listener);
    return () => this.emitter.off(CANCEL_REQUESTED_EVENT, listener);
  }

  /** Calls `listener` once when `jobId` finishes; returns the unsubscribe function. */
  onFinished(jobId: string, listener: (event: JobFinishedEvent) => void): () => void {
    const key = `finished:${jobId}`;
    this.emitter.once(key, listener);
    return () => this.emitter.off(key, listener);
  }

  private finished(event: JobFinishedEvent): void {
    this.emitter.emit(`finished:${event.jobId}`, event);
  }
}

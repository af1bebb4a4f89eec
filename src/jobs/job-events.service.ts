import {
  Inject,
  Injectable,
  Logger,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type { QueueEvents, QueueEventsProducer } from 'bullmq';
import { EventEmitter } from 'node:events';
import { ClusterNotifications, NOTIFICATION_CHANNELS } from '../database/cluster-notifications.js';
import { CANCEL_REQUESTED_EVENT, INFERENCE_QUEUE } from './inference-queue.js';
import type { QueueBackend } from './queue-backend.js';

export const QUEUE_BACKEND = Symbol('QUEUE_BACKEND');

/** A job reached a final state somewhere in the cluster. */
export interface JobFinishedEvent {
  jobId: string;
  outcome: 'completed' | 'failed';
}

/** What travels on the job-signal channel (PostgreSQL queue only). */
type JobSignal = { cancel: string } | { finished: JobFinishedEvent[] };

// Job endings announced in the same tick go out as one notification of at most this many
// (PostgreSQL refuses a payload over 8000 bytes; a job id is at most 64 characters).
const FINISHED_PER_SIGNAL = 60;

const RESYNC_EVENT = 'resync';

/**
 * The cluster's job signals, shared by everything in this process: job endings (for waiting
 * clients) and cancel requests (for workers).
 *
 * On Redis they are BullMQ's own queue events: a stream read by cursor, where an event is
 * written with the transition it reports. BullMQ's PostgreSQL backend reads its event table by
 * an id taken before commit, so an event whose transaction commits after a later one's is
 * skipped (measured: 315 of 4,000 lost with 8 concurrent publishers). There, infq sends its own
 * signals by LISTEN/NOTIFY, which PostgreSQL delivers in commit order: a cancel request as it is
 * made, a job's ending once the worker that ran it saw it recorded. A listener that reconnected
 * may have missed some: `onResync` tells subscribers to read again what they wait for.
 */
@Injectable()
export class JobEventsService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(JobEventsService.name);
  private readonly emitter = new EventEmitter();
  private events: QueueEvents | undefined;
  private producer: QueueEventsProducer | undefined;
  private unsubscribe: (() => void) | undefined;
  private unannounced: JobFinishedEvent[] = [];
  /** Whether infq sends its own signals (PostgreSQL queue) rather than BullMQ's queue events. */
  private readonly ownSignals: boolean;

  constructor(
    @Inject(QUEUE_BACKEND) private readonly backend: QueueBackend,
    private readonly notifications: ClusterNotifications,
  ) {
    // One listener per waiting request: there may be thousands.
    this.emitter.setMaxListeners(0);
    this.ownSignals = backend.name === 'postgres';
  }

  async onModuleInit(): Promise<void> {
    if (this.ownSignals) {
      this.unsubscribe = this.notifications.subscribe(NOTIFICATION_CHANNELS.jobSignals, {
        message: (payload) => this.received(payload),
        resync: () => this.emitter.emit(RESYNC_EVENT),
      });
      return;
    }
    const { QueueEvents, QueueEventsProducer } = this.backend.classes;
    const events = new QueueEvents(INFERENCE_QUEUE, { ...this.backend.listenerOptions });
    const producer = new QueueEventsProducer(INFERENCE_QUEUE, { ...this.backend.options });
    this.events = events;
    this.producer = producer;
    events.on('error', (error) => this.logger.warn(`queue events: ${error.message}`));
    events.on('completed', ({ jobId }) => this.finished({ jobId, outcome: 'completed' }));
    events.on('failed', ({ jobId }) => this.finished({ jobId, outcome: 'failed' }));
    events.on(CANCEL_REQUESTED_EVENT as 'error', (args: unknown) => {
      const jobId = (args as { jobId?: unknown }).jobId;
      if (typeof jobId === 'string') this.cancelRequested(jobId);
    });
    await Promise.all([events.waitUntilReady(), producer.waitUntilReady()]);
  }

  async onModuleDestroy(): Promise<void> {
    this.unsubscribe?.();
    await Promise.allSettled([this.events?.close(), this.producer?.close()]);
  }

  /** Tells every instance to abort `jobId` if it is running it. */
  async requestCancel(jobId: string): Promise<void> {
    if (this.ownSignals) await this.signal({ cancel: jobId });
    else await this.producer?.publishEvent({ eventName: CANCEL_REQUESTED_EVENT, jobId });
  }

  /**
   * Called by the worker once the queue recorded a job's final state. On Redis BullMQ's own
   * event already says so; on PostgreSQL the endings of one tick go out as one notification.
   */
  announceFinished(event: JobFinishedEvent): void {
    if (!this.ownSignals) return;
    this.unannounced.push(event);
    if (this.unannounced.length > 1) return;
    setImmediate(() => {
      const endings = this.unannounced;
      this.unannounced = [];
      for (let start = 0; start < endings.length; start += FINISHED_PER_SIGNAL) {
        const finished = endings.slice(start, start + FINISHED_PER_SIGNAL);
        // A waiting client that misses it reads the job when its wait runs out.
        this.signal({ finished }).catch((error: Error) =>
          this.logger.warn(`job endings not announced: ${error.message}`),
        );
      }
    });
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

  /**
   * Calls `listener` whenever signals may have been missed (the listening connection was lost):
   * whoever waits for one reads the state it waits for again. Returns the unsubscribe function.
   */
  onResync(listener: () => void): () => void {
    this.emitter.on(RESYNC_EVENT, listener);
    return () => this.emitter.off(RESYNC_EVENT, listener);
  }

  private async signal(signal: JobSignal): Promise<void> {
    await this.notifications.publish(NOTIFICATION_CHANNELS.jobSignals, JSON.stringify(signal));
  }

  private received(payload: string): void {
    let signal: JobSignal;
    try {
      signal = JSON.parse(payload) as JobSignal;
    } catch {
      this.emitter.emit(RESYNC_EVENT);
      return;
    }
    if ('cancel' in signal) this.cancelRequested(signal.cancel);
    else for (const event of signal.finished) this.finished(event);
  }

  private cancelRequested(jobId: string): void {
    this.emitter.emit(CANCEL_REQUESTED_EVENT, jobId);
  }

  private finished(event: JobFinishedEvent): void {
    this.emitter.emit(`finished:${event.jobId}`, event);
  }
}

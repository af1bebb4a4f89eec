import { Injectable, Logger } from '@nestjs/common';
import type { JobOrigin } from './inference-queue.js';
import type { JobView } from './job-view.mapper.js';

export type { JobOrigin } from './inference-queue.js';

/**
 * A job reached a final status. Published on the instance that made it final, after the final
 * state is recorded in the queue; at least once (a crash right after recording may repeat it
 * on recovery), so listeners must be idempotent per (jobId, status).
 */
export interface JobFinalEvent {
  jobId: string;
  tenantId: string;
  status: 'complete' | 'dead' | 'cancelled' | 'expired';
  /** The job as `GET /v1/results` shows it, without `result`. */
  view: JobView;
  /** The backend's completion JSON text when complete, else null. */
  resultBody: string | null;
  /** The backend's last HTTP status, when there was one. */
  lastUpstreamStatus: number | null;
  origin: JobOrigin | null;
  /** The size of the stored request (UTF-8 bytes), which the job keeps until it is removed. */
  requestBytes: number;
}

export type JobFinalListener = (event: JobFinalEvent) => Promise<void> | void;

/** In-process fan-out of final job statuses to the features that react to them. */
@Injectable()
export class JobLifecycleService {
  private readonly logger = new Logger(JobLifecycleService.name);
  private readonly listeners = new Set<JobFinalListener>();

  /** Subscribes `listener`; returns the unsubscribe function. */
  onFinal(listener: JobFinalListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs every listener; one failing listener is logged and never stops the others. */
  async publishFinal(event: JobFinalEvent): Promise<void> {
    await Promise.all(
      [...this.listeners].map(async (listener) => {
        try {
          await listener(event);
        } catch (error) {
          this.logger.warn(`job final listener failed: ${(error as Error).message}`);
        }
      }),
    );
  }
}

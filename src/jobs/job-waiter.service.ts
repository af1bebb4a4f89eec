import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { FINAL_STATUSES } from './inference-queue.js';
import { JobEventsService } from './job-events.service.js';
import type { JobSnapshot } from './job-view.mapper.js';
import { JobsService } from './jobs.service.js';

/** Holds a request until its job is final: driven by queue events, never by polling. */
@Injectable()
export class JobWaiter implements OnModuleDestroy {
  /** Aborted when the process stops: waiting clients get the job as it stands (it goes on). */
  private readonly stopping = new AbortController();

  constructor(
    private readonly jobs: JobsService,
    private readonly events: JobEventsService,
  ) {}

  onModuleDestroy(): void {
    this.stopping.abort();
  }

  /**
   * The job once final, or as it stands when `timeoutMs` runs out, `clientGone` aborts (the
   * client went away) or the process stops; the job itself goes on.
   */
  async waitForFinal(
    tenantId: string,
    jobId: string,
    timeoutMs: number,
    clientGone?: AbortSignal,
  ): Promise<JobSnapshot> {
    const signal = clientGone
      ? AbortSignal.any([clientGone, this.stopping.signal])
      : this.stopping.signal;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let unsubscribe = (): void => undefined;
      const stopSleeping = new AbortController();
      // Subscribe before reading, so an ending between the two is not missed.
      const finished = new Promise<void>((resolve) => {
        const stopFinished = this.events.onFinished(jobId, () => resolve());
        // A cancelled job reads final at once, though a busy queue may fail it only later.
        const stopCancelled = this.events.onCancelRequested((id) => id === jobId && resolve());
        unsubscribe = () => {
          stopFinished();
          stopCancelled();
        };
      });
      try {
        const snapshot = await this.jobs.get(tenantId, jobId);
        const remaining = deadline - Date.now();
        if (FINAL_STATUSES.has(snapshot.view.status) || remaining <= 0 || signal?.aborted)
          return snapshot;
        const stopped = await Promise.race([
          finished.then(() => false),
          sleep(
            remaining,
            signal ? AbortSignal.any([signal, stopSleeping.signal]) : stopSleeping.signal,
          ).then(() => !stopSleeping.signal.aborted),
        ]);
        if (stopped) return await this.jobs.get(tenantId, jobId);
      } finally {
        unsubscribe();
        stopSleeping.abort();
      }
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

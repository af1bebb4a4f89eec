import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { setMaxListeners } from 'node:events';
import { FINAL_STATUSES } from './inference-queue.js';
import { JobEventsService } from './job-events.service.js';
import type { JobSnapshot } from './job-view.mapper.js';
import { JobsService } from './jobs.service.js';

/**
 * Why a waiting request's signal aborts when its connection closes: a constant, so that no
 * exception object is built per request (every response's socket closes in the end).
 */
export const CLIENT_GONE = 'client gone';

/** Holds a request until its job is final: driven by queue events, never by polling. */
@Injectable()
export class JobWaiter implements OnModuleDestroy {
  /** Aborted when the process stops: waiting clients get the job as it stands (it goes on). */
  private readonly stopping = new AbortController();

  constructor(
    private readonly jobs: JobsService,
    private readonly events: JobEventsService,
  ) {
    // Every waiting request listens on it: thousands at once is normal, not a leak.
    setMaxListeners(0, this.stopping.signal);
  }

  onModuleDestroy(): void {
    this.stopping.abort();
  }

  /**
   * Starts listening for `jobId`'s ending now. Taken before the job is added, it lets
   * `waitForFinal` start without reading the job: no ending can have been missed. Close it when
   * done (closing twice is harmless).
   */
  watch(jobId: string): JobWatch {
    let close = (): void => undefined;
    const ended = new Promise<void>((resolve) => {
      const stopFinished = this.events.onFinished(jobId, () => resolve());
      // A cancelled job reads final at once, though a busy queue may fail it only later.
      const stopCancelled = this.events.onCancelRequested((id) => id === jobId && resolve());
      // Its ending may have passed unheard: read the job again.
      const stopResync = this.events.onResync(() => resolve());
      close = () => {
        stopFinished();
        stopCancelled();
        stopResync();
      };
    });
    return { ended, close: () => close() };
  }

  /**
   * The job once final, or as it stands when `timeoutMs` runs out, `clientGone` aborts (the
   * client went away) or the process stops; the job itself goes on. `watch`: one taken before
   * the job was added (see `watch`).
   */
  async waitForFinal(
    tenantId: string,
    jobId: string,
    timeoutMs: number,
    clientGone?: AbortSignal,
    watch?: JobWatch,
  ): Promise<JobSnapshot> {
    const signals = clientGone ? [clientGone, this.stopping.signal] : [this.stopping.signal];
    const deadline = Date.now() + timeoutMs;
    for (let fresh = watch; ; fresh = undefined) {
      // Subscribe before reading, so an ending between the two is not missed.
      const current = fresh ?? this.watch(jobId);
      try {
        if (!fresh) {
          const snapshot = await this.jobs.get(tenantId, jobId);
          const over = deadline <= Date.now() || signals.some((signal) => signal.aborted);
          if (FINAL_STATUSES.has(snapshot.view.status) || over) return snapshot;
        }
        const ended = await endedWithin(current.ended, deadline - Date.now(), signals);
        if (!ended) return await this.jobs.get(tenantId, jobId);
      } finally {
        current.close();
      }
    }
  }
}

/** A subscription to one job's ending (`JobWaiter.watch`). */
export interface JobWatch {
  /** Resolves when the job finishes or its cancel is requested. */
  readonly ended: Promise<void>;
  close(): void;
}

/** Whether `ended` resolves before `ms` pass or any of `signals` aborts. */
function endedWithin(
  ended: Promise<void>,
  ms: number,
  signals: readonly AbortSignal[],
): Promise<boolean> {
  if (signals.some((signal) => signal.aborted)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const finish = (value: boolean): void => {
      clearTimeout(timer);
      for (const signal of signals) signal.removeEventListener('abort', stop);
      resolve(value);
    };
    const stop = (): void => finish(false);
    const timer = setTimeout(stop, Math.max(0, ms));
    for (const signal of signals) signal.addEventListener('abort', stop, { once: true });
    void ended.then(() => finish(true));
  });
}

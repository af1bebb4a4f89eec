import type { Job, JobState } from 'bullmq';
import { CANCELLED_REASON, EXPIRED_REASON } from './job-cancellation.js';
import {
  type InferenceJobData,
  type InferenceJobProgress,
  type InferenceJobResult,
  type JobStatus,
} from './inference-queue.js';

/** `GET /v1/results/:id` without `result`, which is spliced in verbatim by `renderJobView`. */
export interface JobView {
  id: string;
  object: 'chat.completion.job';
  status: JobStatus;
  model: string;
  created_at: number;
  started_at: number | null;
  completed_at: number | null;
  retries: number;
  next_retry_at: number | null;
  /** 1 + the tenant's jobs ahead of it while it waits for a slot; null otherwise. */
  queue_position: number | null;
  expires_at: number | null;
  error: string | null;
}

export interface JobSnapshot {
  view: JobView;
  /** The backend's completion text, when complete. */
  resultBody: string | null;
  /** The backend's last HTTP status, for mapping a dead job to an answer. */
  lastUpstreamStatus: number | null;
  finishedAtMs: number | null;
}

type InferenceJob = Job<InferenceJobData, InferenceJobResult>;

/** The public status of a job in a BullMQ state. */
export function statusOf(job: InferenceJob, state: JobState | 'unknown'): JobStatus {
  switch (state) {
    case 'completed':
      return 'complete';
    case 'failed':
      if (job.failedReason === CANCELLED_REASON) return 'cancelled';
      return job.failedReason === EXPIRED_REASON ? 'expired' : 'dead';
    default: {
      if (job.data.cancelRequestedAt !== undefined) return 'cancelled';
      if (state !== 'active') return 'queued';
      // A failed attempt is recorded in two steps; between them the job still reads active
      // with its new retry count and a retry time ahead: it is waiting for that retry.
      const progress = (
        typeof job.progress === 'object' ? job.progress : {}
      ) as InferenceJobProgress;
      const waitingForRetry = job.attemptsMade > 0 && (progress.nextRetryAt ?? 0) > Date.now() + 50;
      return waitingForRetry ? 'queued' : 'processing';
    }
  }
}

export function toJobSnapshot(job: InferenceJob, state: JobState | 'unknown'): JobSnapshot {
  const status = statusOf(job, state);
  const progress = (typeof job.progress === 'object' ? job.progress : {}) as InferenceJobProgress;
  const failures = job.attemptsMade;
  const retries = (() => {
    switch (status) {
      case 'queued':
      case 'processing':
        return failures;
      case 'complete':
      case 'dead':
        // attemptsMade counts the final attempt too.
        return Math.max(0, failures - 1);
      case 'cancelled':
      case 'expired':
        return state === 'failed' ? Math.max(0, failures - 1) : failures;
    }
  })();
  const finishedAtMs =
    status === 'cancelled' || status === 'expired'
      ? (job.finishedOn ?? job.data.cancelRequestedAt ?? null)
      : status === 'complete' || status === 'dead'
        ? (job.finishedOn ?? null)
        : null;
  const error =
    status === 'cancelled' || status === 'expired' || (status === 'queued' && failures === 0)
      ? null
      : (progress.lastError?.message ?? (status === 'dead' ? job.failedReason || null : null));
  return {
    view: {
      id: job.id!,
      object: 'chat.completion.job',
      status,
      model: job.data.model,
      created_at: seconds(job.timestamp),
      started_at: job.processedOn ? seconds(job.processedOn) : null,
      completed_at: finishedAtMs === null ? null : seconds(finishedAtMs),
      retries,
      next_retry_at:
        state === 'delayed' && status === 'queued' && progress.nextRetryAt
          ? seconds(progress.nextRetryAt)
          : null,
      queue_position: null,
      expires_at: job.data.expiresAt === undefined ? null : seconds(job.data.expiresAt),
      error,
    },
    resultBody: status === 'complete' ? (job.returnvalue?.body ?? null) : null,
    lastUpstreamStatus: progress.lastError?.status ?? null,
    finishedAtMs,
  };
}

/** The view as JSON text, with the backend's completion embedded byte for byte. */
export function renderJobView(snapshot: JobSnapshot): string {
  const head = JSON.stringify(snapshot.view);
  return `${head.slice(0, -1)},"result":${snapshot.resultBody ?? 'null'}}`;
}

const seconds = (ms: number): number => Math.floor(ms / 1000);

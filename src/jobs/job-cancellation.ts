import type { Job } from 'bullmq';
import type { InferenceJobData } from './inference-queue.js';

/**
 * How a job ends early, described once. A client's cancel is recorded on the job
 * (`cancelRequestedAt`) before anything else, then broadcast so the instance running it aborts
 * its attempt; an `expiresAt` deadline (`Cancel-After`) ends it the same way as `expired`.
 */

/** `failedReason` of a job that ended because it was cancelled (as opposed to dead). */
export const CANCELLED_REASON = 'cancelled by the client';
/** `failedReason` of a job whose `Cancel-After` deadline passed. */
export const EXPIRED_REASON = 'expired: its Cancel-After deadline passed';

/** Whether the client asked to cancel this job (the one predicate every reader uses). */
export function isCancelRequested(
  job: Pick<Job<InferenceJobData>, 'data'>,
  recentlyCancelled?: ReadonlySet<string> | ReadonlyMap<string, unknown>,
  jobId?: string,
): boolean {
  return (
    job.data.cancelRequestedAt !== undefined ||
    (jobId !== undefined && recentlyCancelled?.has(jobId) === true)
  );
}

/** Whether the job's deadline has passed at `now`. */
export const isExpired = (job: Pick<Job<InferenceJobData>, 'data'>, now = Date.now()): boolean =>
  job.data.expiresAt !== undefined && now >= job.data.expiresAt;

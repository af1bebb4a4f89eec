/**
 * The queue contract: names, payloads and markers shared by the producer, the processor and the
 * readers. Job ids are random UUIDs chosen by the producer.
 */

import type { JobLane } from '../dispatch/dispatch-store.js';

/** Where a job came from when it was not a plain API request. */
export interface JobOrigin {
  batchId: string;
  customId: string;
}

export const INFERENCE_QUEUE = 'inference';
export const CHAT_COMPLETION_JOB = 'chat.completion';

/** Custom queue event asking whichever worker runs a job to abort it. */
export const CANCEL_REQUESTED_EVENT = 'cancel-requested';

/**
 * A parked job waits in the queue's delayed set this long at most: in practice until the
 * dispatcher releases it (see src/dispatch). Longer delays overflow BullMQ's delayed-set scores.
 */
export const PARK_MS = 365 * 86_400_000;

export interface InferenceJobData {
  tenantId: string;
  model: string;
  /** The client's request body, verbatim JSON text (kept as text so it reaches the backend untouched). */
  request: string;
  /** Set once the client cancels; the job must then never run, retry or complete. */
  cancelRequestedAt?: number;
  /** Unix ms of the `Cancel-After` deadline: past it the job ends `expired`. */
  expiresAt?: number;
  /** Batch lines wait in their own list, so a batch never starves its tenant's requests. */
  lane?: JobLane;
  origin?: JobOrigin;
  /** The node of the lease taken before the job was added (the dispatcher's fast path). */
  claimedNode?: string;
}

export interface InferenceJobResult {
  /** The backend's chat completion JSON, verbatim. */
  body: string;
  node: string;
  totalTokens: number;
}

/** Stored as the job's progress: what the last failed attempt said and when the next one runs. */
export interface InferenceJobProgress {
  lastError?: { status: number | null; message: string };
  /** Unix milliseconds of the scheduled retry. */
  nextRetryAt?: number;
}

export type JobStatus = 'queued' | 'processing' | 'complete' | 'dead' | 'cancelled' | 'expired';

export const FINAL_STATUSES: ReadonlySet<JobStatus> = new Set([
  'complete',
  'dead',
  'cancelled',
  'expired',
]);

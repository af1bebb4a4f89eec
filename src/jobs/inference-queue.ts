/**
 * The queue contract: names, payloads and markers shared by the producer, the processor and the
 * readers. Job ids are random UUIDs chosen by the producer.
 */

export const INFERENCE_QUEUE = 'inference';
export const CHAT_COMPLETION_JOB = 'chat.completion';

/** Custom queue event asking whichever worker runs a job to abort it. */
export const CANCEL_REQUESTED_EVENT = 'cancel-requested';

/** `failedReason` of a job that ended because it was cancelled (as opposed to dead). */
export const CANCELLED_REASON = 'cancelled by the client';

export interface InferenceJobData {
  tenantId: string;
  model: string;
  /** The client's request body, verbatim JSON text (kept as text so it reaches the backend untouched). */
  request: string;
  /** Set once the client cancels; the job must then never run, retry or complete. */
  cancelRequestedAt?: number;
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

export type JobStatus = 'queued' | 'processing' | 'complete' | 'dead' | 'cancelled';

export const FINAL_STATUSES: ReadonlySet<JobStatus> = new Set(['complete', 'dead', 'cancelled']);

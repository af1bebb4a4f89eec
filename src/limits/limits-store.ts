/** One tenant's limits as they apply to an admission. */
export interface LimitSettings {
  rpm: number;
  tokensPerDay: number;
  maxConcurrent: number;
}

export type SlotKind = 'job' | 'stream';

export interface AdmissionRequest {
  tenantId: string;
  /** Job id or stream id: names the request in the window and the concurrency slot. */
  admissionId: string;
  kind: SlotKind;
  limits: LimitSettings;
}

/** The counters as they stand after an admission decision. */
export interface LimitCounters {
  /** Accepted requests in the last 60 s (including this one when admitted). */
  requestsInWindow: number;
  /** Milliseconds until the oldest request in the window leaves it. */
  windowResetMs: number;
  tokensToday: number;
  openSlots: number;
}

export type AdmissionRefusal = 'rate_limit' | 'daily_tokens' | 'concurrency';

export type AdmissionResult =
  | { admitted: true; counters: LimitCounters }
  | { admitted: false; refusal: AdmissionRefusal; counters: LimitCounters };

export interface OpenJobSlot {
  tenantId: string;
  jobId: string;
}

/** How long a stream's slot lives without a heartbeat (a crashed instance's streams expire). */
export const STREAM_SLOT_TTL_MS = 60_000;
export const WINDOW_MS = 60_000;

/**
 * Atomic per-tenant counters shared by every instance: a sliding 60 s window of accepted
 * requests, open concurrency slots and tokens per UTC day. Redis or PostgreSQL.
 */
export interface LimitsStore {
  /** Checks all three limits and, only if all pass, records the request and takes a slot. */
  admit(request: AdmissionRequest): Promise<AdmissionResult>;
  /** Undoes an admission whose request then failed: it leaves the window and frees its slot. */
  rollback(tenantId: string, admissionId: string): Promise<void>;
  /** Frees a slot; idempotent. Adds `tokens` to today's usage. */
  release(tenantId: string, slotId: string, tokens: number): Promise<void>;
  /** Takes a job slot without checking limits (an admin requeue). */
  forceTakeJobSlot(tenantId: string, jobId: string): Promise<void>;
  /** Keeps an open stream's slot alive. */
  refreshStreamSlot(tenantId: string, streamId: string): Promise<void>;
  counters(tenantId: string): Promise<LimitCounters>;
  /** Job slots taken more than `olderThanMs` ago, for reconciliation against the queue. */
  listJobSlots(olderThanMs: number): Promise<OpenJobSlot[]>;
  close(): Promise<void>;
}

/** Milliseconds until the next UTC midnight, when daily token counts start again. */
export function msUntilUtcMidnight(now: number): number {
  const next = new Date(now);
  next.setUTCHours(24, 0, 0, 0);
  return next.getTime() - now;
}

/** `YYYY-MM-DD` of the UTC day containing `now`. */
export const utcDay = (now: number): string => new Date(now).toISOString().slice(0, 10);

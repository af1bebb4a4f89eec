import type { DispatchNode } from '../dispatch/dispatch-store.js';

/** One tenant's limits as they apply to an admission. */
export interface LimitSettings {
  rpm: number;
  tokensPerDay: number;
  maxConcurrent: number;
  maxQueued: number;
  weight: number;
}

/** A job waits in the dispatcher, a stream takes a slot; a batch only counts as one request. */
export type SlotKind = 'job' | 'stream' | 'batch';

export interface AdmissionRequest {
  tenantId: string;
  /** Job id or stream id: names the request in the window and in the dispatcher. */
  admissionId: string;
  kind: SlotKind;
  limits: LimitSettings;
  /**
   * Tokens the job or stream holds against the daily budget until it ends (`tokenReservation`);
   * none when absent (a batch holds none).
   */
  reservation?: number;
  /** A job's fast-path claim (`DispatchStore.claim`), tried in the same step when admitted. */
  claim?: AdmissionClaim;
}

/** What the dispatcher's fast path needs for an interactive job (see `DispatchStore.claim`). */
export interface AdmissionClaim {
  model: string;
  nodes: readonly DispatchNode[];
  leaseMs: number;
}

/** The counters as they stand after an admission decision. */
export interface LimitCounters {
  /** Accepted requests in the last 60 s (including this one when admitted). */
  requestsInWindow: number;
  /** Milliseconds until the oldest request in the window leaves it. */
  windowResetMs: number;
  /** Tokens charged today (UTC). */
  tokensToday: number;
  /** Tokens reserved by the tenant's open jobs and streams (including this one when admitted). */
  tokensReserved: number;
  /** Jobs at a backend plus open streams. */
  openSlots: number;
  /** Accepted jobs waiting for a slot or for their next retry. */
  queuedJobs: number;
}

export type AdmissionRefusal = 'rate_limit' | 'daily_tokens' | 'queue_full' | 'concurrency';

export type AdmissionResult =
  /** `claimedNode`: the node of the lease the job took on the fast path, or null. */
  | { admitted: true; counters: LimitCounters; claimedNode: string | null }
  | { admitted: false; refusal: AdmissionRefusal; counters: LimitCounters };

/** How long a stream's lease lives without a heartbeat (a crashed instance's streams expire). */
export const STREAM_SLOT_TTL_MS = 60_000;
export const WINDOW_MS = 60_000;

/**
 * Atomic per-tenant admission shared by every instance: a sliding 60 s window of accepted
 * requests, tokens per UTC day (used today plus the reservations of open work, so admitted work
 * overshoots the budget by at most one reservation), and the dispatcher's queued jobs (for jobs) or open slots (for
 * streams, which never wait). Redis or PostgreSQL, beside the dispatcher's own state.
 */
export interface LimitsStore {
  /**
   * Checks the limits and, only if all pass, records the request: a job becomes pending in the
   * dispatcher, a stream takes a lease (its tenant slot); either holds its token reservation
   * until it ends.
   */
  admit(request: AdmissionRequest): Promise<AdmissionResult>;
  /** Undoes an admission whose request then failed before its job or stream existed. */
  rollback(tenantId: string, admissionId: string): Promise<void>;
  counters(tenantId: string): Promise<LimitCounters>;
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

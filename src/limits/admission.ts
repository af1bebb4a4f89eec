import type { FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { SlotKind } from './limits-store.js';

/**
 * A request admitted by the rate-limit interceptor; its id becomes the job's (or stream's) id.
 * Until `settle()` the interceptor owns it and rolls it back if the handler fails; from then on
 * the job (its dispatcher lease) or the stream owns it and frees it.
 */
export class Admission {
  private settled = false;

  /**
   * @param claimedNode For a job: the node of the lease it took on the dispatcher's fast path
   *   as it was admitted; null when it waits in its list; undefined when no claim was tried.
   */
  constructor(
    readonly id: string,
    readonly kind: SlotKind,
    readonly claimedNode?: string | null,
  ) {}

  /** The job or stream now exists and answers for the admission. */
  settle(): void {
    this.settled = true;
  }

  get isSettled(): boolean {
    return this.settled;
  }
}

type AdmittedRequest = FastifyRequest & {
  admission?: Admission;
  admissionId?: string;
  replayOf?: string;
};

/** The id this request's job or stream gets if admitted; the same for every caller. */
export function admissionIdOf(request: FastifyRequest): string {
  const admitted = request as AdmittedRequest;
  admitted.admissionId ??= randomUUID();
  return admitted.admissionId;
}

/** Marks the request as a replay of an earlier one's job (`Idempotency-Key`): it admits nothing. */
export function setReplayOf(request: FastifyRequest, jobId: string): void {
  (request as AdmittedRequest).replayOf = jobId;
}

/** The job an idempotent replay answers with, or undefined for a new request. */
export function getReplayOf(request: FastifyRequest): string | undefined {
  return (request as AdmittedRequest).replayOf;
}

export function setAdmission(request: FastifyRequest, admission: Admission): void {
  (request as AdmittedRequest).admission = admission;
}

/** The admission of this request, if it has one yet. */
export function findAdmission(request: FastifyRequest): Admission | undefined {
  return (request as AdmittedRequest).admission;
}

/** The admission of this request; the interceptor guarantees one on the routes it guards. */
export function getAdmission(request: FastifyRequest): Admission {
  const admission = (request as AdmittedRequest).admission;
  if (!admission) throw new Error('route is missing the RateLimitInterceptor');
  return admission;
}

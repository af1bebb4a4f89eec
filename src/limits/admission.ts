import type { FastifyRequest } from 'fastify';
import type { SlotKind } from './limits-store.js';

/**
 * A request admitted by the rate-limit interceptor. Its id becomes the job's (or stream's) id.
 * Once a job is queued or a stream has started, that owner frees the slot, so the interceptor
 * no longer rolls it back on error.
 */
export interface Admission {
  readonly id: string;
  readonly kind: SlotKind;
  handedOver: boolean;
}

type AdmittedRequest = FastifyRequest & { admission?: Admission };

export function setAdmission(request: FastifyRequest, admission: Admission): void {
  (request as AdmittedRequest).admission = admission;
}

/** The admission of this request; the interceptor guarantees one on the routes it guards. */
export function getAdmission(request: FastifyRequest): Admission {
  const admission = (request as AdmittedRequest).admission;
  if (!admission) throw new Error('route is missing the RateLimitInterceptor');
  return admission;
}

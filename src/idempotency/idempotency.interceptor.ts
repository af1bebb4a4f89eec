import {
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import { catchError, from, switchMap, type Observable } from 'rxjs';
import type { TenantPrincipal } from '../auth/tenant-principal.js';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import { JobsService } from '../jobs/jobs.service.js';
import { admissionIdOf, findAdmission, setReplayOf } from '../limits/admission.js';
import {
  hashRequestBody,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
  parseIdempotencyKey,
} from './idempotency-key.js';
import type { IdempotencyClaim } from './idempotency-store.js';
import { IdempotencyService } from './idempotency.service.js';

// A key's job is created moments after the key is claimed; one still missing after this long
// was never created (the instance that claimed the key was killed in between).
const UNCREATED_JOB_GRACE_MS = 3_000;
const UNCREATED_JOB_POLL_MS = 50;

/**
 * `Idempotency-Key` on a queued or waited-for request: the first request with a key names the
 * job it creates; a repeat with the same body is answered with that job (and is charged nothing:
 * it runs before the rate-limit interceptor), one with another body is a 422. A key whose job
 * was never created (refused, or failed) is freed again, and one whose job never appeared (its
 * instance died between the claim and the job) is taken over by the next request with the key.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    private readonly keys: IdempotencyService,
    private readonly jobs: JobsService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest & { user: TenantPrincipal; rawBody?: Buffer }>();
    const reply = http.getResponse<FastifyReply>();
    const body = request.body as { stream?: unknown } | undefined;
    const key = parseIdempotencyKey(request.headers['idempotency-key']);
    if (key === undefined || body?.stream === true) return next.handle();
    const tenantId = request.user.tenantId;
    const jobId = admissionIdOf(request);
    const claim = this.claim(tenantId, key, hashRequestBody(request.rawBody ?? ''), jobId);
    return from(claim).pipe(
      switchMap((found) => {
        switch (found.kind) {
          case 'mismatch':
            throw new AppError(
              ErrorCode.IdempotencyKeyReused,
              `${IDEMPOTENCY_KEY_HEADER} was already used with a different request body`,
              { param: IDEMPOTENCY_KEY_HEADER },
            );
          case 'replay':
            setReplayOf(request, found.jobId);
            void reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
            return next.handle();
          case 'new':
            return next.handle().pipe(
              catchError(async (error: unknown) => {
                if (!findAdmission(request)?.isSettled) {
                  await this.keys.release(tenantId, key, jobId).catch(() => undefined);
                }
                throw error;
              }),
            );
        }
      }),
    );
  }

  /** A claim whose replay names a job that exists (or is taken over, see the class comment). */
  private async claim(
    tenantId: string,
    key: string,
    bodyHash: string,
    jobId: string,
  ): Promise<IdempotencyClaim> {
    const found = await this.keys.claim(tenantId, key, bodyHash, jobId);
    if (found.kind !== 'replay' || (await this.created(found.jobId))) return found;
    // Freed only while it still names the missing job: of several requests taking it over,
    // exactly one claims it anew and the others replay that one's job.
    await this.keys.release(tenantId, key, found.jobId);
    return this.keys.claim(tenantId, key, bodyHash, jobId);
  }

  private async created(jobId: string): Promise<boolean> {
    const deadline = Date.now() + UNCREATED_JOB_GRACE_MS;
    for (;;) {
      if ((await this.jobs.stateOf(jobId)) !== 'unknown') return true;
      if (Date.now() >= deadline) return false;
      await sleep(UNCREATED_JOB_POLL_MS);
    }
  }
}

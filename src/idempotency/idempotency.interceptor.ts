import {
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { catchError, from, switchMap, type Observable } from 'rxjs';
import type { TenantPrincipal } from '../auth/tenant-principal.js';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import { admissionIdOf, findAdmission, setReplayOf } from '../limits/admission.js';
import {
  hashRequestBody,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
  parseIdempotencyKey,
} from './idempotency-key.js';
import { IdempotencyService } from './idempotency.service.js';

/**
 * `Idempotency-Key` on a queued or waited-for request: the first request with a key names the
 * job it creates; a repeat with the same body is answered with that job (and is charged nothing:
 * it runs before the rate-limit interceptor), one with another body is a 422. A key whose job
 * was never created (refused, or failed) is freed again.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(private readonly keys: IdempotencyService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest & { user: TenantPrincipal; rawBody?: Buffer }>();
    const reply = http.getResponse<FastifyReply>();
    const body = request.body as { stream?: unknown } | undefined;
    const key = parseIdempotencyKey(request.headers['idempotency-key']);
    if (key === undefined || body?.stream === true) return next.handle();
    const tenantId = request.user.tenantId;
    const jobId = admissionIdOf(request);
    const claim = this.keys.claim(tenantId, key, hashRequestBody(request.rawBody ?? ''), jobId);
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
}

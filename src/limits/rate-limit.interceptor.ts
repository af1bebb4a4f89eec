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
import { Admission, admissionIdOf, getReplayOf, setAdmission } from './admission.js';
import { LimitsService } from './limits.service.js';

/**
 * Admits each request against its tenant's limits before the handler runs, and puts the
 * request back (window and slot) if the handler fails before handing the slot to a job or stream.
 */
@Injectable()
export class RateLimitInterceptor implements NestInterceptor {
  constructor(private readonly limits: LimitsService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest & { user: TenantPrincipal }>();
    const reply = http.getResponse<FastifyReply>();
    const tenant = request.user;
    const body = request.body as { stream?: unknown } | undefined;
    // An idempotent replay creates nothing, so it is charged against no limit.
    if (getReplayOf(request) !== undefined) return next.handle();
    const admission = new Admission(
      admissionIdOf(request),
      body?.stream === true ? 'stream' : 'job',
    );
    return from(this.limits.admit(tenant, admission.id, admission.kind)).pipe(
      catchError((error: unknown) => {
        if (error instanceof AppError)
          for (const [name, value] of Object.entries(error.headers)) void reply.header(name, value);
        throw error;
      }),
      switchMap((headers) => {
        void reply.headers(headers);
        setAdmission(request, admission);
        return next.handle().pipe(
          catchError(async (error: unknown) => {
            if (!admission.isSettled) await this.limits.rollback(tenant.tenantId, admission.id);
            throw error;
          }),
        );
      }),
    );
  }
}

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
import { DispatchService } from '../dispatch/dispatch.service.js';
import { LimitsService } from './limits.service.js';
import { tokenReservation } from './token-reservation.js';

/**
 * Admits each request against its tenant's limits before the handler runs, and puts the
 * request back (window and slot) if the handler fails before handing the slot to a job or stream.
 */
@Injectable()
export class RateLimitInterceptor implements NestInterceptor {
  constructor(
    private readonly limits: LimitsService,
    private readonly dispatch: DispatchService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest & { user: TenantPrincipal; rawBody?: Buffer }>();
    const reply = http.getResponse<FastifyReply>();
    const tenant = request.user;
    const body = request.body as { stream?: unknown; model?: unknown } | undefined;
    // An idempotent replay creates nothing, so it is charged against no limit.
    if (getReplayOf(request) !== undefined) return next.handle();
    const id = admissionIdOf(request);
    const kind = body?.stream === true ? 'stream' : 'job';
    // A job tries the dispatcher's fast path in the same store call as its admission.
    const claim =
      kind === 'job' && typeof body?.model === 'string'
        ? this.dispatch.admissionClaim(body.model)
        : undefined;
    const reservation = tokenReservation(body, request.rawBody?.length ?? 0);
    return from(this.limits.admit(tenant, id, kind, reservation, claim)).pipe(
      catchError((error: unknown) => {
        if (error instanceof AppError)
          for (const [name, value] of Object.entries(error.headers)) void reply.header(name, value);
        throw error;
      }),
      switchMap(({ headers, claimedNode }) => {
        void reply.headers(headers);
        const admission = new Admission(id, kind, claim ? claimedNode : undefined);
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

import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

/** The authenticated caller of a `/v1` request. */
export interface TenantPrincipal {
  readonly tenantId: string;
  readonly tenantName: string;
  readonly keyId: string;
  readonly limits: {
    readonly rpm: number;
    readonly tokensPerDay: number;
    readonly maxConcurrent: number;
    readonly maxQueued: number;
    /** Share of the pool when it is the bottleneck. */
    readonly weight: number;
  };
}

/** Injects the authenticated tenant into a controller method. */
export const CurrentTenant = createParamDecorator(
  (_data: unknown, context: ExecutionContext): TenantPrincipal =>
    context.switchToHttp().getRequest<FastifyRequest & { user: TenantPrincipal }>().user,
);

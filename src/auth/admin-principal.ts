import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

/** The caller of an `/admin/api` request: a script with `ADMIN_TOKEN`, or a signed-in admin. */
export type AdminPrincipal =
  | { readonly admin: true; readonly via: 'token' }
  | {
      readonly admin: true;
      readonly via: 'session';
      readonly adminId: string;
      readonly email: string;
      readonly csrfToken: string;
      readonly expiresAt: Date;
    };

/** Injects the authenticated admin into a controller method. */
export const CurrentAdmin = createParamDecorator(
  (_data: unknown, context: ExecutionContext): AdminPrincipal =>
    context.switchToHttp().getRequest<FastifyRequest & { user: AdminPrincipal }>().user,
);

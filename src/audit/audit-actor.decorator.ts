import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AdminPrincipal } from '../auth/admin-principal.js';
import type { AuditActor } from './audit-action.js';

/** The authenticated admin of an `/admin/api` request and its address, for the audit log. */
export const CurrentActor = createParamDecorator(
  (_data: unknown, context: ExecutionContext): AuditActor => {
    const request = context.switchToHttp().getRequest<FastifyRequest & { user?: AdminPrincipal }>();
    return auditActorOf(request.user, request.ip);
  },
);

/** `token` for `ADMIN_TOKEN`, else the signed-in admin's email. */
export function auditActorOf(admin: AdminPrincipal | undefined, address: string): AuditActor {
  return { actor: admin?.via === 'session' ? admin.email : 'token', address };
}

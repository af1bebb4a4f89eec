import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import { Access, ACCESS_METADATA } from './access.decorator.js';
import { ADMIN_SESSION_STRATEGY } from './admin-session.strategy.js';
import { ADMIN_TOKEN_STRATEGY } from './admin-token.strategy.js';
import { API_KEY_STRATEGY } from './api-key.strategy.js';

const ApiKeyGuard = AuthGuard(API_KEY_STRATEGY);
const AdminTokenGuard = AuthGuard(ADMIN_TOKEN_STRATEGY);
const AdminSessionGuard = AuthGuard(ADMIN_SESSION_STRATEGY);

/** Global guard: every route declares its access, and one that does not is refused. */
@Injectable()
export class AccessGuard implements CanActivate {
  private readonly apiKeyGuard = new ApiKeyGuard();
  private readonly adminTokenGuard = new AdminTokenGuard();
  private readonly adminSessionGuard = new AdminSessionGuard();

  constructor(private readonly reflector: Reflector) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const access = this.reflector.getAllAndOverride<Access | undefined>(ACCESS_METADATA, [
      context.getHandler(),
      context.getClass(),
    ]);
    switch (access) {
      case Access.Public:
        return true;
      case Access.Tenant:
        return (await this.apiKeyGuard.canActivate(context)) as boolean;
      case Access.Admin: {
        // Scripts send a bearer token; the dashboard sends its session cookie (and CSRF token).
        const { headers } = context.switchToHttp().getRequest<FastifyRequest>();
        const guard =
          headers.authorization !== undefined || headers['x-api-key'] !== undefined
            ? this.adminTokenGuard
            : this.adminSessionGuard;
        return (await guard.canActivate(context)) as boolean;
      }
      case undefined:
        throw new AppError(ErrorCode.Unauthorized, 'This endpoint declares no access rule');
    }
  }
}

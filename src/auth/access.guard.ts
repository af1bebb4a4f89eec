import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import { Access, ACCESS_METADATA } from './access.decorator.js';
import { ADMIN_SESSION_STRATEGY } from './admin-session.strategy.js';
import { ADMIN_TOKEN_STRATEGY } from './admin-token.strategy.js';
import { ApiKeyAuthService } from './api-key-auth.service.js';

const AdminTokenGuard = AuthGuard(ADMIN_TOKEN_STRATEGY);
const AdminSessionGuard = AuthGuard(ADMIN_SESSION_STRATEGY);

/**
 * Global guard: every route declares its access, and one that does not is refused.
 *
 * Tenant keys, on every API call, are checked by `ApiKeyAuthService` directly: Passport's
 * guard around the same check cost about 2 % of a poll's CPU (bench/RESULTS.md). Admin
 * sign-in, tokens and sessions go through Passport.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  private readonly adminTokenGuard = new AdminTokenGuard();
  private readonly adminSessionGuard = new AdminSessionGuard();
  /** Each handler's access rule, read from its metadata once. */
  private readonly rules = new WeakMap<object, Access | undefined>();

  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeyAuthService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    switch (this.accessOf(context)) {
      case Access.Public:
        return true;
      case Access.Tenant: {
        const request = context.switchToHttp().getRequest<FastifyRequest & { user?: unknown }>();
        request.user = await this.apiKeys.authenticate(request.headers);
        return true;
      }
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

  private accessOf(context: ExecutionContext): Access | undefined {
    const handler = context.getHandler();
    if (!this.rules.has(handler)) {
      this.rules.set(
        handler,
        this.reflector.getAllAndOverride<Access | undefined>(ACCESS_METADATA, [
          handler,
          context.getClass(),
        ]),
      );
    }
    return this.rules.get(handler);
  }
}

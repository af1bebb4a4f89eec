import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import { Access, ACCESS_METADATA } from './access.decorator.js';
import { ADMIN_TOKEN_STRATEGY } from './admin-token.strategy.js';
import { API_KEY_STRATEGY } from './api-key.strategy.js';

const ApiKeyGuard = AuthGuard(API_KEY_STRATEGY);
const AdminGuard = AuthGuard(ADMIN_TOKEN_STRATEGY);

/** Global guard: every route declares its access, and one that does not is refused. */
@Injectable()
export class AccessGuard implements CanActivate {
  private readonly apiKeyGuard = new ApiKeyGuard();
  private readonly adminGuard = new AdminGuard();

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
      case Access.Admin:
        return (await this.adminGuard.canActivate(context)) as boolean;
      case undefined:
        throw new AppError(ErrorCode.Unauthorized, 'This endpoint declares no access rule');
    }
  }
}

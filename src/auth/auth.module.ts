import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { AdminsModule } from '../admins/admins.module.js';
import { TenantsModule } from '../tenants/tenants.module.js';
import { AccessGuard } from './access.guard.js';
import { AdminPasswordStrategy } from './admin-password.strategy.js';
import { AdminSessionStrategy } from './admin-session.strategy.js';
import { AdminTokenStrategy } from './admin-token.strategy.js';
import { ApiKeyAuthService } from './api-key-auth.service.js';

@Module({
  imports: [PassportModule, TenantsModule, AdminsModule],
  providers: [
    ApiKeyAuthService,
    AdminTokenStrategy,
    AdminSessionStrategy,
    AdminPasswordStrategy,
    { provide: APP_GUARD, useClass: AccessGuard },
  ],
})
export class AuthModule {}

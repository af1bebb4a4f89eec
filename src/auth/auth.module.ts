import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { TenantsModule } from '../tenants/tenants.module.js';
import { AccessGuard } from './access.guard.js';
import { AdminTokenStrategy } from './admin-token.strategy.js';
import { ApiKeyAuthService } from './api-key-auth.service.js';
import { ApiKeyStrategy } from './api-key.strategy.js';

@Module({
  imports: [PassportModule, TenantsModule],
  providers: [
    ApiKeyAuthService,
    ApiKeyStrategy,
    AdminTokenStrategy,
    { provide: APP_GUARD, useClass: AccessGuard },
  ],
})
export class AuthModule {}

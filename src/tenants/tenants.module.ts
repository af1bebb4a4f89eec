import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module.js';
import { ApiKey } from './api-key.entity.js';
import { ApiKeysAdminController } from './api-keys.admin.controller.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import { ApiKeysService } from './api-keys.service.js';
import { TenantChangesClient } from './tenant-changes.client.js';
import { Tenant } from './tenant.entity.js';
import { TenantsAdminController } from './tenants.admin.controller.js';
import { TenantsRepository } from './tenants.repository.js';
import { TenantsService } from './tenants.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([Tenant, ApiKey]), AuditModule],
  controllers: [TenantsAdminController, ApiKeysAdminController],
  providers: [
    TenantsRepository,
    ApiKeysRepository,
    TenantsService,
    ApiKeysService,
    TenantChangesClient,
  ],
  exports: [TenantsService, ApiKeysService, TenantChangesClient],
})
export class TenantsModule {}

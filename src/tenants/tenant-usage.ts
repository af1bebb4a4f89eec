import type { TenantUsageDto } from './dto/tenant.dto.js';

/** Provided by the limits module: today's usage of a tenant, for the admin API. */
export interface TenantUsageReader {
  usage(tenantId: string): Promise<TenantUsageDto>;
}

export const TENANT_USAGE_READER = Symbol('TENANT_USAGE_READER');

import type { TenantPrincipal } from '../auth/tenant-principal.js';
import type { DispatchTenant } from './dispatch-store.js';

/** The settings the dispatcher keeps for a tenant, from its principal. */
export const dispatchTenant = (tenant: TenantPrincipal): DispatchTenant => ({
  tenantId: tenant.tenantId,
  maxConcurrent: tenant.limits.maxConcurrent,
  weight: tenant.limits.weight,
});

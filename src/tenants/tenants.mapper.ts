import type { ApiKey } from './api-key.entity.js';
import type { ApiKeyResponseDto } from './dto/api-key.dto.js';
import type { TenantResponseDto } from './dto/tenant.dto.js';
import type { Tenant } from './tenant.entity.js';

export const unixSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);

export function toTenantResponse(tenant: Tenant): TenantResponseDto {
  return {
    id: tenant.id,
    name: tenant.name,
    status: tenant.status,
    limits: {
      rpm: tenant.rpm,
      tokens_per_day: tenant.tokensPerDay,
      max_concurrent: tenant.maxConcurrent,
      max_queued: tenant.maxQueued,
    },
    weight: tenant.weight,
    created_at: unixSeconds(tenant.createdAt),
  };
}

export function toApiKeyResponse(key: ApiKey): ApiKeyResponseDto {
  return {
    id: key.id,
    tenant_id: key.tenantId,
    name: key.name,
    prefix: key.prefix,
    created_at: unixSeconds(key.createdAt),
    last_used_at: key.lastUsedAt ? unixSeconds(key.lastUsedAt) : null,
    revoked_at: key.revokedAt ? unixSeconds(key.revokedAt) : null,
  };
}

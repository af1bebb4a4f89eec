import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { Tenant, TenantCreateRequest, TenantList, TenantUpdateRequest } from '../../api/types';
import { adminApi, apiRequest } from '../../lib/api-client';

const tenantsKey = ['tenants'] as const;
const tenantKey = (id: string) => ['tenants', id] as const;

export function useTenants() {
  return useQuery({
    queryKey: tenantsKey,
    queryFn: async () => (await apiRequest<TenantList>('GET', adminApi('/tenants'))).data,
    refetchInterval: 10_000,
  });
}

/** One tenant with today's usage; refreshed every 5 s while shown. */
export function useTenant(id: string, options: { refresh?: boolean; enabled?: boolean } = {}) {
  return useQuery({
    enabled: options.enabled ?? true,
    queryKey: tenantKey(id),
    queryFn: () => apiRequest<Tenant>('GET', adminApi(`/tenants/${encodeURIComponent(id)}`)),
    refetchInterval: options.refresh === false ? false : 5_000,
  });
}

export function useCreateTenant() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: TenantCreateRequest) =>
      apiRequest<Tenant>('POST', adminApi('/tenants'), body),
    onSuccess: (tenant) => {
      client.setQueryData(tenantKey(tenant.id), tenant);
      // The answer carries no usage: fetch the full tenant right away.
      void client.invalidateQueries({ queryKey: tenantKey(tenant.id) });
      void client.invalidateQueries({ queryKey: tenantsKey, exact: true });
    },
  });
}

export function useUpdateTenant(id: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: TenantUpdateRequest) =>
      apiRequest<Tenant>('PATCH', adminApi(`/tenants/${encodeURIComponent(id)}`), body),
    onSuccess: (tenant) => {
      client.setQueryData<Tenant>(tenantKey(id), (current) => ({ ...current, ...tenant }));
      void client.invalidateQueries({ queryKey: tenantKey(id) });
      void client.invalidateQueries({ queryKey: tenantsKey, exact: true });
    },
  });
}

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { ApiKey, ApiKeyCreated, ApiKeyCreateRequest, ApiKeyList } from '../../api/types';
import { adminApi, apiRequest } from '../../lib/api-client';

const keysKey = (tenantId: string) => ['tenants', tenantId, 'keys'] as const;

export function useApiKeys(tenantId: string) {
  return useQuery({
    queryKey: keysKey(tenantId),
    queryFn: async () =>
      (
        await apiRequest<ApiKeyList>(
          'GET',
          adminApi(`/tenants/${encodeURIComponent(tenantId)}/keys`),
        )
      ).data,
    refetchInterval: 10_000,
  });
}

export function useIssueApiKey(tenantId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: ApiKeyCreateRequest) =>
      apiRequest<ApiKeyCreated>(
        'POST',
        adminApi(`/tenants/${encodeURIComponent(tenantId)}/keys`),
        body,
      ),
    onSuccess: () => void client.invalidateQueries({ queryKey: keysKey(tenantId) }),
  });
}

export function useRevokeApiKey(tenantId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (keyId: string) =>
      apiRequest<ApiKey>('DELETE', adminApi(`/keys/${encodeURIComponent(keyId)}`)),
    onSuccess: () => void client.invalidateQueries({ queryKey: keysKey(tenantId) }),
  });
}

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { AdminBatch, AdminBatchList } from '../../api/types';
import { adminApi, apiRequest } from '../../lib/api-client';

/** Statuses after which a batch no longer changes. */
export const FINAL_BATCH_STATUSES = ['completed', 'failed', 'expired', 'cancelled'];

const batchesKey = (tenantId: string) => ['tenants', tenantId, 'batches'] as const;

export function useTenantBatches(tenantId: string) {
  return useQuery({
    queryKey: batchesKey(tenantId),
    queryFn: async () =>
      (
        await apiRequest<AdminBatchList>(
          'GET',
          adminApi(`/batches?tenant=${encodeURIComponent(tenantId)}&limit=50`),
        )
      ).data,
    // Running batches move quickly; finished ones do not.
    refetchInterval: (query) =>
      query.state.data?.some((batch) => !FINAL_BATCH_STATUSES.includes(batch.status))
        ? 2_000
        : 15_000,
  });
}

export function useCancelBatch(tenantId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string) =>
      apiRequest<AdminBatch>('POST', adminApi(`/batches/${encodeURIComponent(id)}/cancel`)),
    onSuccess: () => void client.invalidateQueries({ queryKey: batchesKey(tenantId) }),
  });
}

/** Where the browser downloads a file (the session cookie authenticates it). */
export const fileDownloadUrl = (fileId: string): string =>
  adminApi(`/files/${encodeURIComponent(fileId)}/content`);

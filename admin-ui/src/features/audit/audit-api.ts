import { useInfiniteQuery } from '@tanstack/react-query';
import type { AuditPage } from '../../api/types';
import { adminApi, apiRequest } from '../../lib/api-client';

export interface AuditFilters {
  actor: string;
  action: string;
  tenant: string;
}

/** The actions the audit log records, for the action filter. */
export const AUDIT_ACTIONS = [
  'tenant.created',
  'tenant.updated',
  'key.issued',
  'key.revoked',
  'dead_letter.requeued',
  'job.deleted',
  'webhook.created',
  'webhook.updated',
  'webhook.deleted',
  'admin.signed_in',
  'admin.sign_in_failed',
] as const;

const PAGE_SIZE = 50;

/** The audit log, newest first, page by page; refreshed every 10 s. */
export function useAuditLog(filters: AuditFilters) {
  return useInfiniteQuery({
    queryKey: ['audit', filters],
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) => {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (filters.actor) query.set('actor', filters.actor);
      if (filters.action) query.set('action', filters.action);
      if (filters.tenant) query.set('tenant', filters.tenant);
      if (pageParam) query.set('cursor', pageParam);
      return apiRequest<AuditPage>('GET', adminApi(`/audit?${query.toString()}`));
    },
    getNextPageParam: (page) => page.next_cursor ?? null,
    refetchInterval: 10_000,
  });
}

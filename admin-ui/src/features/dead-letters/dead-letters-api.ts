import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import type { DeadLetterPage, Job } from '../../api/types';
import { adminApi, apiRequest } from '../../lib/api-client';

export interface DeadLetterFilters {
  tenant: string;
  model: string;
}

const PAGE_SIZE = 50;
const deadLettersKey = ['dead-letters'] as const;

/** Dead jobs, newest first, page by page; refreshed every 5 s. */
export function useDeadLetters(filters: DeadLetterFilters) {
  return useInfiniteQuery({
    queryKey: [...deadLettersKey, filters],
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) => {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (filters.tenant) query.set('tenant', filters.tenant);
      if (filters.model) query.set('model', filters.model);
      if (pageParam) query.set('cursor', pageParam);
      return apiRequest<DeadLetterPage>('GET', adminApi(`/dead-letters?${query.toString()}`));
    },
    getNextPageParam: (page) => page.next_cursor ?? null,
    refetchInterval: 5_000,
  });
}

/** Outcome of an action on several jobs: which succeeded, and the API's error for the others. */
export interface BatchResult {
  done: string[];
  failed: { id: string; error: unknown }[];
}

async function each(ids: string[], action: (id: string) => Promise<unknown>): Promise<BatchResult> {
  const results = await Promise.allSettled(ids.map(action));
  const result: BatchResult = { done: [], failed: [] };
  results.forEach((outcome, index) => {
    if (outcome.status === 'fulfilled') result.done.push(ids[index]);
    else result.failed.push({ id: ids[index], error: outcome.reason });
  });
  return result;
}

export function useRequeue() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (ids: string[]) =>
      each(ids, (id) => apiRequest<Job>('POST', adminApi(`/jobs/${encodeURIComponent(id)}/retry`))),
    onSettled: () => void client.invalidateQueries({ queryKey: deadLettersKey }),
  });
}

export function useDeleteJobs() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (ids: string[]) =>
      each(ids, (id) => apiRequest<unknown>('DELETE', adminApi(`/jobs/${encodeURIComponent(id)}`))),
    onSettled: () => void client.invalidateQueries({ queryKey: deadLettersKey }),
  });
}

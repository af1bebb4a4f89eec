import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { AdminSession, SignInRequest } from '../../api/types';
import { adminApi, ApiError, apiRequest, setCsrfToken } from '../../lib/api-client';

export const SESSION_QUERY_KEY = ['session'] as const;

/** The signed-in admin, or null when there is no session (401). */
export function useSession() {
  return useQuery({
    queryKey: SESSION_QUERY_KEY,
    queryFn: async (): Promise<AdminSession | null> => {
      try {
        const session = await apiRequest<AdminSession>('GET', adminApi('/session'));
        setCsrfToken(session.csrf_token);
        return session;
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) {
          setCsrfToken(null);
          return null;
        }
        throw error;
      }
    },
    staleTime: 60_000,
    retry: false,
  });
}

export function useSignIn() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: SignInRequest) =>
      apiRequest<AdminSession>('POST', adminApi('/session'), body),
    onSuccess: (session) => {
      setCsrfToken(session.csrf_token);
      client.clear();
      client.setQueryData(SESSION_QUERY_KEY, session);
    },
  });
}

export function useSignOut() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => apiRequest<unknown>('DELETE', adminApi('/session')),
    onSettled: () => {
      setCsrfToken(null);
      client.clear();
      client.setQueryData(SESSION_QUERY_KEY, null);
    },
  });
}

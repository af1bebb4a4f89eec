import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { useEffect } from 'react';
import { createBrowserRouter, RouterProvider } from 'react-router';
import { ToastProvider } from './components/ui/toast';
import { SESSION_QUERY_KEY } from './features/auth/session-api';
import { ApiError, onUnauthorized } from './lib/api-client';
import { AppLayout } from './pages/app-layout';
import { AuditPage } from './pages/audit-page';
import { DeadLettersPage } from './pages/dead-letters-page';
import { NotFoundPage } from './pages/not-found-page';
import { OverviewPage } from './pages/overview-page';
import { SignInPage } from './pages/sign-in-page';
import { TenantDetailPage } from './pages/tenant-detail-page';
import { TenantsPage } from './pages/tenants-page';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 2_000,
      // A 4xx will not change by asking again; network errors and 5xx get two more tries.
      retry: (failures, error) =>
        failures < 2 && !(error instanceof ApiError && error.status >= 400 && error.status < 500),
    },
  },
});

const router = createBrowserRouter(
  [
    { path: '/sign-in', element: <SignInPage /> },
    {
      element: <AppLayout />,
      children: [
        { index: true, element: <OverviewPage /> },
        { path: 'tenants', element: <TenantsPage /> },
        { path: 'tenants/:id', element: <TenantDetailPage /> },
        { path: 'dead-letters', element: <DeadLettersPage /> },
        { path: 'audit', element: <AuditPage /> },
        { path: '*', element: <NotFoundPage /> },
      ],
    },
  ],
  { basename: '/admin' },
);

export function App() {
  // A 401 anywhere means the session ended (expired, signed out elsewhere): back to sign-in.
  useEffect(() => onUnauthorized(() => queryClient.setQueryData(SESSION_QUERY_KEY, null)), []);
  return (
    <QueryClientProvider client={queryClient}>
      <ToastProvider>
        <RouterProvider router={router} />
      </ToastProvider>
    </QueryClientProvider>
  );
}

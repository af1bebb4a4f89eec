import { Navigate, NavLink, Outlet, useLocation, useNavigate } from 'react-router';
import { Button } from '../components/ui/button';
import { ErrorBanner } from '../components/ui/error-banner';
import { Spinner } from '../components/ui/spinner';
import { useSession, useSignOut } from '../features/auth/session-api';
import { Brand } from '../components/ui/brand';

const NAV = [
  { to: '/', label: 'Overview', end: true },
  { to: '/tenants', label: 'Tenants', end: false },
  { to: '/dead-letters', label: 'Dead letters', end: false },
  { to: '/audit', label: 'Audit', end: false },
];

/** The signed-in frame: navigation on the left, the page on the right. */
export function AppLayout() {
  const session = useSession();
  const signOut = useSignOut();
  const navigate = useNavigate();
  const location = useLocation();

  if (session.isPending) {
    return (
      <div className="center-screen">
        <Spinner size={28} label="Loading" />
      </div>
    );
  }
  if (session.isError) {
    return (
      <div className="center-screen">
        <div className="auth-card">
          <ErrorBanner error={session.error} title="Cannot reach the admin API" />
          <Button onClick={() => void session.refetch()}>Try again</Button>
        </div>
      </div>
    );
  }
  if (!session.data) {
    const next = location.pathname + location.search;
    return (
      <Navigate to={`/sign-in${next !== '/' ? `?next=${encodeURIComponent(next)}` : ''}`} replace />
    );
  }

  return (
    <div className="shell">
      <aside className="sidebar">
        <Brand />
        <nav className="nav" aria-label="Main">
          {NAV.map((item) => (
            <NavLink key={item.to} to={item.to} end={item.end} className="nav-link">
              {item.label}
            </NavLink>
          ))}
        </nav>
        <div className="sidebar-footer">
          <div className="who" title={session.data.admin?.email ?? 'ADMIN_TOKEN'}>
            {session.data.admin?.email ?? 'token'}
          </div>
          <Button
            size="sm"
            variant="ghost"
            busy={signOut.isPending}
            onClick={() =>
              signOut.mutate(undefined, { onSettled: () => void navigate('/sign-in') })
            }
          >
            Sign out
          </Button>
        </div>
      </aside>
      <main className="main">
        <Outlet />
      </main>
    </div>
  );
}

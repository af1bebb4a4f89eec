import { Navigate, useNavigate, useSearchParams } from 'react-router';
import { SignInForm } from '../features/auth/sign-in-form';
import { useSession } from '../features/auth/session-api';
import { Brand } from '../components/ui/brand';

export function SignInPage() {
  const session = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const requested = params.get('next');
  // Only paths inside the dashboard: never an absolute URL from the query string.
  const next =
    requested && requested.startsWith('/') && !requested.startsWith('//') ? requested : '/';
  if (session.data) return <Navigate to={next} replace />;
  return (
    <div className="center-screen auth-screen">
      <div className="auth-card">
        <Brand large />
        <h1 className="auth-title">Sign in</h1>
        <p className="muted">Manage tenants, keys, limits and dead letters.</p>
        <SignInForm onSignedIn={() => void navigate(next, { replace: true })} />
        <p className="auth-foot muted">
          No account yet? Start infq with <code>ADMIN_EMAIL</code> and <code>ADMIN_PASSWORD</code>,
          or run <code>npm run cli -- admins:create you@example.com</code>.
        </p>
      </div>
    </div>
  );
}

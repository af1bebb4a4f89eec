import { ApiError } from '../../lib/api-client';

/** An API error exactly as the API stated it: message, then status and code. */
export function ErrorBanner({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const apiError = error instanceof ApiError ? error : undefined;
  const message =
    error instanceof Error ? error.message : typeof error === 'string' ? error : 'Unexpected error';
  return (
    <div className="banner banner-danger" role="alert">
      <div>
        {title && <strong className="banner-title">{title}</strong>}
        <span>{message}</span>
      </div>
      {apiError && apiError.status > 0 && (
        <code className="banner-code">
          {apiError.status} {apiError.code}
        </code>
      )}
    </div>
  );
}

export function Notice({ children }: { children: React.ReactNode }) {
  return <div className="banner banner-info">{children}</div>;
}

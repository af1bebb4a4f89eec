import { useMemo } from 'react';
import { useSearchParams } from 'react-router';
import { Button } from '../components/ui/button';
import { Card } from '../components/ui/card';
import { EmptyState } from '../components/ui/empty-state';
import { ErrorBanner } from '../components/ui/error-banner';
import { PageHeader } from '../components/ui/page-header';
import { Spinner } from '../components/ui/spinner';
import { useAuditLog, type AuditFilters } from '../features/audit/audit-api';
import { AuditFilterBar } from '../features/audit/audit-filters';
import { AuditTable } from '../features/audit/audit-table';
import { useTenants } from '../features/tenants/tenants-api';

export function AuditPage() {
  const [params, setParams] = useSearchParams();
  const filters: AuditFilters = {
    actor: params.get('actor') ?? '',
    action: params.get('action') ?? '',
    tenant: params.get('tenant') ?? '',
  };
  const audit = useAuditLog(filters);
  const tenants = useTenants();
  const entries = useMemo(() => audit.data?.pages.flatMap((page) => page.data) ?? [], [audit.data]);
  const tenantNames = useMemo(
    () => new Map((tenants.data ?? []).map((tenant) => [tenant.id, tenant.name])),
    [tenants.data],
  );
  const filtered = filters.actor !== '' || filters.action !== '' || filters.tenant !== '';

  const setFilters = (next: AuditFilters) => {
    const query = new URLSearchParams();
    if (next.actor) query.set('actor', next.actor);
    if (next.action) query.set('action', next.action);
    if (next.tenant) query.set('tenant', next.tenant);
    setParams(query, { replace: true });
  };

  return (
    <>
      <PageHeader
        title="Audit log"
        description="Who changed tenants, keys, dead letters and webhooks, and every admin sign-in, newest first."
      />
      <div className="stack-lg">
        <AuditFilterBar
          filters={filters}
          tenants={(tenants.data ?? []).map(({ id, name }) => ({ id, name }))}
          onChange={setFilters}
        />
        <ErrorBanner error={audit.error} title="Could not load the audit log" />
        <Card flush={entries.length > 0}>
          {audit.isPending ? (
            <div className="loading-block">
              <Spinner label="Loading" />
            </div>
          ) : entries.length === 0 ? (
            <EmptyState title={filtered ? 'No entries match these filters' : 'No entries yet'}>
              {filtered
                ? 'Clear the filters to see the whole log.'
                : 'Admin actions appear here as they happen.'}
            </EmptyState>
          ) : (
            <>
              <AuditTable entries={entries} tenantNames={tenantNames} />
              {audit.hasNextPage && (
                <div className="load-more">
                  <Button
                    busy={audit.isFetchingNextPage}
                    onClick={() => void audit.fetchNextPage()}
                  >
                    Load more
                  </Button>
                </div>
              )}
            </>
          )}
        </Card>
      </div>
    </>
  );
}

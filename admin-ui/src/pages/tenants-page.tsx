import { useMemo, useState } from 'react';
import { useNavigate } from 'react-router';
import { Button } from '../components/ui/button';
import { Card } from '../components/ui/card';
import { EmptyState } from '../components/ui/empty-state';
import { ErrorBanner } from '../components/ui/error-banner';
import { PageHeader } from '../components/ui/page-header';
import { Spinner } from '../components/ui/spinner';
import { useToast } from '../components/ui/toast';
import { CreateTenantDialog } from '../features/tenants/create-tenant-dialog';
import { useTenants } from '../features/tenants/tenants-api';
import { TenantsTable } from '../features/tenants/tenants-table';

export function TenantsPage() {
  const tenants = useTenants();
  const navigate = useNavigate();
  const toast = useToast();
  const [creating, setCreating] = useState(false);
  const [search, setSearch] = useState('');

  const visible = useMemo(() => {
    const term = search.trim().toLowerCase();
    const all = tenants.data ?? [];
    return term
      ? all.filter((t) => t.name.toLowerCase().includes(term) || t.id.startsWith(term))
      : all;
  }, [tenants.data, search]);

  return (
    <>
      <PageHeader
        title="Tenants"
        description="Each tenant has its own keys and limits."
        actions={
          <Button variant="primary" onClick={() => setCreating(true)}>
            New tenant
          </Button>
        }
      />
      <ErrorBanner error={tenants.error} title="Could not load tenants" />
      {tenants.isPending ? (
        <div className="loading-block">
          <Spinner label="Loading" />
        </div>
      ) : tenants.data && tenants.data.length === 0 ? (
        <Card>
          <EmptyState
            title="No tenants yet"
            action={
              <Button variant="primary" onClick={() => setCreating(true)}>
                Create the first tenant
              </Button>
            }
          >
            Create a tenant, then issue it a key to call <code>/v1/chat/completions</code>.
          </EmptyState>
        </Card>
      ) : (
        tenants.data && (
          <Card
            flush
            title={`${tenants.data.length} tenant${tenants.data.length === 1 ? '' : 's'}`}
            actions={
              <input
                className="search"
                type="search"
                placeholder="Filter by name or id"
                aria-label="Filter tenants"
                value={search}
                onChange={(event) => setSearch(event.target.value)}
              />
            }
          >
            {visible.length > 0 ? (
              <TenantsTable tenants={visible} />
            ) : (
              <EmptyState title={`No tenant matches “${search}”`} />
            )}
          </Card>
        )
      )}
      <CreateTenantDialog
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(tenant) => {
          toast(`Tenant ${tenant.name} created. Issue it a key next.`);
          void navigate(`/tenants/${tenant.id}`);
        }}
      />
    </>
  );
}

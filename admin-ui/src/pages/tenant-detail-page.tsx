import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { Button } from '../components/ui/button';
import { Card } from '../components/ui/card';
import { EmptyState } from '../components/ui/empty-state';
import { ErrorBanner } from '../components/ui/error-banner';
import { PageHeader } from '../components/ui/page-header';
import { Spinner } from '../components/ui/spinner';
import { BatchesCard } from '../features/batches/batches-card';
import { ApiKeysTable } from '../features/api-keys/api-keys-table';
import { useApiKeys } from '../features/api-keys/api-keys-api';
import { IssueKeyDialog } from '../features/api-keys/issue-key-dialog';
import { LimitsForm } from '../features/tenants/limits-form';
import { TenantStatusBadge } from '../features/tenants/tenant-status-badge';
import { TenantStatusControl } from '../features/tenants/tenant-status-control';
import { useTenant } from '../features/tenants/tenants-api';
import { UsageMeters } from '../features/tenants/usage-meters';
import { WebhooksCard } from '../features/webhooks/webhooks-card';
import { ApiError } from '../lib/api-client';
import { formatDateTime } from '../lib/format';

export function TenantDetailPage() {
  const { id = '' } = useParams();
  const tenant = useTenant(id);
  const keys = useApiKeys(id);
  const [issuing, setIssuing] = useState(false);
  const breadcrumb = <Link to="/tenants">← Tenants</Link>;

  if (tenant.isPending) {
    return (
      <div className="loading-block">
        <Spinner label="Loading" />
      </div>
    );
  }
  if (!tenant.data) {
    const notFound = tenant.error instanceof ApiError && tenant.error.status === 404;
    return (
      <>
        <PageHeader title={notFound ? 'Tenant not found' : 'Tenant'} breadcrumb={breadcrumb} />
        <ErrorBanner error={tenant.error} />
        <Card>
          <EmptyState title="Nothing to show" action={<Link to="/tenants">Back to tenants</Link>} />
        </Card>
      </>
    );
  }
  const data = tenant.data;
  return (
    <>
      <PageHeader
        breadcrumb={breadcrumb}
        title={
          <span className="title-with-badge">
            {data.name} <TenantStatusBadge status={data.status} />
          </span>
        }
        description={
          <>
            <span className="mono">{data.id}</span> · created {formatDateTime(data.created_at)}
          </>
        }
        actions={<TenantStatusControl tenant={data} />}
      />
      {tenant.isError && <ErrorBanner error={tenant.error} title="Could not refresh" />}
      <div className="stack-lg">
        <Card title="Today's usage" description="Refreshes every 5 seconds.">
          <UsageMeters tenant={data} />
        </Card>
        <Card title="Limits" description="Changes apply on every instance within a second.">
          <LimitsForm tenant={data} />
        </Card>
        <Card
          title="API keys"
          description="Keys are shown once, when issued; only their prefix is kept visible."
          flush={(keys.data?.length ?? 0) > 0}
          actions={
            <Button variant="primary" onClick={() => setIssuing(true)}>
              Issue key
            </Button>
          }
        >
          <ErrorBanner error={keys.error} title="Could not load keys" />
          {keys.isPending ? (
            <div className="loading-block">
              <Spinner label="Loading" />
            </div>
          ) : (
            keys.data && (
              <ApiKeysTable tenantId={data.id} keys={keys.data} onIssue={() => setIssuing(true)} />
            )
          )}
        </Card>
        <WebhooksCard tenantId={data.id} />
        <BatchesCard tenantId={data.id} />
      </div>
      <IssueKeyDialog
        tenantId={data.id}
        tenantName={data.name}
        open={issuing}
        onClose={() => setIssuing(false)}
      />
    </>
  );
}

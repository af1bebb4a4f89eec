import { Card } from '../../components/ui/card';
import { EmptyState } from '../../components/ui/empty-state';
import { ErrorBanner } from '../../components/ui/error-banner';
import { Spinner } from '../../components/ui/spinner';
import { BatchesTable } from './batches-table';
import { useTenantBatches } from './batches-api';

/** A tenant's batches (OpenAI's Batch API), newest first. */
export function BatchesCard({ tenantId }: { tenantId: string }) {
  const batches = useTenantBatches(tenantId);
  const list = batches.data ?? [];
  return (
    <Card
      title="Batches"
      description="Batch API runs of this tenant: each line runs as a queued job."
      flush={list.length > 0}
    >
      <ErrorBanner error={batches.error} title="Could not load batches" />
      {batches.isPending ? (
        <div className="loading-block">
          <Spinner label="Loading" />
        </div>
      ) : list.length === 0 ? (
        <EmptyState title="No batches">
          Batches created with POST /v1/batches by this tenant appear here.
        </EmptyState>
      ) : (
        <BatchesTable tenantId={tenantId} batches={list} />
      )}
    </Card>
  );
}

import { useState } from 'react';
import { Button } from '../../components/ui/button';
import { Card } from '../../components/ui/card';
import { EmptyState } from '../../components/ui/empty-state';
import { ErrorBanner } from '../../components/ui/error-banner';
import { Spinner } from '../../components/ui/spinner';
import { AddWebhookDialog } from './add-webhook-dialog';
import { WebhookDeliveriesTable } from './webhook-deliveries-table';
import { WebhookEndpointsTable } from './webhook-endpoints-table';
import { WebhookSecretDialog } from './webhook-secret-dialog';
import { useWebhookEndpoints } from './webhooks-api';

/** A tenant's webhook endpoints, the selected one's recent deliveries, and their actions. */
export function WebhooksCard({ tenantId }: { tenantId: string }) {
  const endpoints = useWebhookEndpoints(tenantId);
  const [adding, setAdding] = useState(false);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [shown, setShown] = useState<{ url: string; secret: string; rotated: boolean } | null>(
    null,
  );
  const list = endpoints.data ?? [];
  const selected = list.find((endpoint) => endpoint.id === selectedId) ?? list[0];

  return (
    <>
      <Card
        title="Webhooks"
        description="Signed POSTs when this tenant's jobs and batches end; retried for 24 hours."
        flush={list.length > 0}
        actions={
          <Button variant="primary" onClick={() => setAdding(true)}>
            Add endpoint
          </Button>
        }
      >
        <ErrorBanner error={endpoints.error} title="Could not load webhook endpoints" />
        {endpoints.isPending ? (
          <div className="loading-block">
            <Spinner label="Loading" />
          </div>
        ) : list.length === 0 ? (
          <EmptyState title="No webhook endpoints">
            Add one to hear about finished jobs without polling.
          </EmptyState>
        ) : (
          <WebhookEndpointsTable
            tenantId={tenantId}
            endpoints={list}
            selectedId={selected?.id ?? null}
            onSelect={setSelectedId}
            onRotated={({ url, secret }) => setShown({ url, secret, rotated: true })}
          />
        )}
      </Card>
      {selected && (
        <Card
          title="Recent deliveries"
          description={<span className="mono">{selected.url}</span>}
          flush
        >
          <WebhookDeliveriesTable key={selected.id} endpointId={selected.id} />
        </Card>
      )}
      <AddWebhookDialog
        tenantId={tenantId}
        open={adding}
        onClose={() => setAdding(false)}
        onCreated={({ url, secret }) => setShown({ url, secret, rotated: false })}
      />
      <WebhookSecretDialog
        secret={shown?.secret ?? null}
        url={shown?.url ?? ''}
        rotated={shown?.rotated ?? false}
        onClose={() => setShown(null)}
      />
    </>
  );
}

import { Badge, type Tone } from '../../components/ui/badge';
import { Button } from '../../components/ui/button';
import { EmptyState } from '../../components/ui/empty-state';
import { ErrorBanner } from '../../components/ui/error-banner';
import { Spinner } from '../../components/ui/spinner';
import { useToast } from '../../components/ui/toast';
import type { WebhookDelivery } from '../../api/types';
import { formatDateTime, formatRelative } from '../../lib/format';
import { useRedeliver, useWebhookDeliveries } from './webhooks-api';

const STATUS_TONE: Record<WebhookDelivery['status'], Tone> = {
  pending: 'warning',
  succeeded: 'success',
  failed: 'danger',
};

/** An endpoint's latest deliveries (refreshed every few seconds), each redeliverable. */
export function WebhookDeliveriesTable({ endpointId }: { endpointId: string }) {
  const deliveries = useWebhookDeliveries(endpointId);
  const redeliver = useRedeliver(endpointId);
  const toast = useToast();

  if (deliveries.isPending) {
    return (
      <div className="loading-block">
        <Spinner label="Loading" />
      </div>
    );
  }
  if (!deliveries.data) return <ErrorBanner error={deliveries.error} />;
  if (deliveries.data.length === 0) {
    return (
      <EmptyState title="No deliveries yet">
        Events this endpoint subscribes to appear here once a job or batch ends.
      </EmptyState>
    );
  }
  return (
    <div className="table-wrap">
      <ErrorBanner error={redeliver.error} title="Could not redeliver" />
      <table className="table" aria-label="Recent deliveries">
        <thead>
          <tr>
            <th>Event</th>
            <th>Event id</th>
            <th>Status</th>
            <th>Attempts</th>
            <th>Response</th>
            <th>Last error</th>
            <th>Created</th>
            <th aria-label="Actions" />
          </tr>
        </thead>
        <tbody>
          {deliveries.data.map((delivery) => (
            <tr key={delivery.id} data-delivery-id={delivery.id}>
              <td className="mono">{delivery.event_type}</td>
              <td className="mono">{delivery.event_id}</td>
              <td>
                <Badge tone={STATUS_TONE[delivery.status]}>{delivery.status}</Badge>
              </td>
              <td>{delivery.attempts}</td>
              <td className="mono">{delivery.last_response_code ?? '—'}</td>
              <td className="cell-error" title={delivery.last_error ?? undefined}>
                {delivery.last_error ?? ''}
              </td>
              <td className="nowrap" title={formatDateTime(delivery.created_at)}>
                {formatRelative(delivery.created_at)}
              </td>
              <td className="actions">
                <Button
                  size="sm"
                  variant="ghost"
                  disabled={delivery.status === 'pending'}
                  busy={redeliver.isPending && redeliver.variables === delivery.id}
                  onClick={() =>
                    redeliver.mutate(delivery.id, {
                      onSuccess: () => toast(`Redelivering ${delivery.event_id}`),
                    })
                  }
                >
                  Redeliver
                </Button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

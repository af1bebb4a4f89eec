import { useState } from 'react';
import { Badge } from '../../components/ui/badge';
import { Button } from '../../components/ui/button';
import { ConfirmDialog } from '../../components/ui/confirm-dialog';
import { useToast } from '../../components/ui/toast';
import type { WebhookEndpoint } from '../../api/types';
import { formatDateTime, formatRelative } from '../../lib/format';
import { useDeleteWebhookEndpoint, useUpdateWebhookEndpoint } from './webhooks-api';

/** A tenant's endpoints with their actions; rotating hands the new secret to `onRotated`. */
export function WebhookEndpointsTable({
  tenantId,
  endpoints,
  selectedId,
  onSelect,
  onRotated,
}: {
  tenantId: string;
  endpoints: WebhookEndpoint[];
  selectedId: string | null;
  onSelect: (endpointId: string) => void;
  onRotated: (rotated: { url: string; secret: string }) => void;
}) {
  const update = useUpdateWebhookEndpoint(tenantId);
  const remove = useDeleteWebhookEndpoint(tenantId);
  const toast = useToast();
  const [rotating, setRotating] = useState<WebhookEndpoint | null>(null);
  const [deleting, setDeleting] = useState<WebhookEndpoint | null>(null);

  const setEnabled = (endpoint: WebhookEndpoint, enabled: boolean) =>
    update.mutate(
      { id: endpoint.id, body: { enabled } },
      {
        onSuccess: () => toast(`Endpoint ${enabled ? 'enabled' : 'disabled'}: ${endpoint.url}`),
      },
    );

  return (
    <>
      <div className="table-wrap">
        <table className="table" aria-label="Webhook endpoints">
          <thead>
            <tr>
              <th>URL</th>
              <th>Events</th>
              <th>Status</th>
              <th>Created</th>
              <th aria-label="Actions" />
            </tr>
          </thead>
          <tbody>
            {endpoints.map((endpoint) => (
              <tr
                key={endpoint.id}
                data-endpoint-id={endpoint.id}
                className={endpoint.id === selectedId ? 'row-selected' : undefined}
              >
                <td className="cell-main mono">{endpoint.url}</td>
                <td>
                  <div className="chips">
                    {endpoint.events.map((name) => (
                      <span key={name} className="chip">
                        {name}
                      </span>
                    ))}
                  </div>
                </td>
                <td>
                  {endpoint.enabled ? (
                    <Badge tone="success">enabled</Badge>
                  ) : (
                    <Badge tone="neutral">disabled</Badge>
                  )}
                </td>
                <td className="nowrap" title={formatDateTime(endpoint.created_at)}>
                  {formatRelative(endpoint.created_at)}
                </td>
                <td className="actions nowrap">
                  <Button size="sm" variant="ghost" onClick={() => onSelect(endpoint.id)}>
                    Deliveries
                  </Button>
                  <Button
                    size="sm"
                    variant="ghost"
                    busy={update.isPending && update.variables?.id === endpoint.id}
                    onClick={() => setEnabled(endpoint, !endpoint.enabled)}
                  >
                    {endpoint.enabled ? 'Disable' : 'Enable'}
                  </Button>
                  <Button size="sm" variant="ghost" onClick={() => setRotating(endpoint)}>
                    Rotate secret
                  </Button>
                  <Button
                    size="sm"
                    variant="ghost"
                    className="text-danger"
                    onClick={() => setDeleting(endpoint)}
                  >
                    Delete
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <ConfirmDialog
        open={rotating !== null}
        title="Rotate the signing secret?"
        confirmLabel="Rotate secret"
        busy={update.isPending}
        error={update.error}
        onClose={() => {
          setRotating(null);
          update.reset();
        }}
        onConfirm={() =>
          rotating &&
          update.mutate(
            { id: rotating.id, body: { rotate_secret: true } },
            {
              onSuccess: (endpoint) => {
                setRotating(null);
                onRotated({ url: endpoint.url, secret: endpoint.secret ?? '' });
              },
            },
          )
        }
      >
        A new secret is issued and shown once. For 24 hours deliveries carry signatures under both
        the old and the new secret, so the receiver can switch without losing events.
      </ConfirmDialog>
      <ConfirmDialog
        open={deleting !== null}
        title="Delete this endpoint?"
        confirmLabel="Delete endpoint"
        danger
        busy={remove.isPending}
        error={remove.error}
        onClose={() => {
          setDeleting(null);
          remove.reset();
        }}
        onConfirm={() =>
          deleting &&
          remove.mutate(deleting.id, {
            onSuccess: () => {
              toast(`Endpoint deleted: ${deleting.url}`);
              setDeleting(null);
            },
          })
        }
      >
        <span className="mono">{deleting?.url}</span> receives no more events, and its delivery
        history is deleted. This cannot be undone.
      </ConfirmDialog>
    </>
  );
}

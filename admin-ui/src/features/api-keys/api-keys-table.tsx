import { useState } from 'react';
import { Badge } from '../../components/ui/badge';
import { Button } from '../../components/ui/button';
import { ConfirmDialog } from '../../components/ui/confirm-dialog';
import { EmptyState } from '../../components/ui/empty-state';
import { useToast } from '../../components/ui/toast';
import type { ApiKey } from '../../api/types';
import { formatDateTime, formatRelative } from '../../lib/format';
import { useRevokeApiKey } from './api-keys-api';

export function ApiKeysTable({
  tenantId,
  keys,
  onIssue,
}: {
  tenantId: string;
  keys: ApiKey[];
  onIssue: () => void;
}) {
  const revoke = useRevokeApiKey(tenantId);
  const toast = useToast();
  const [revoking, setRevoking] = useState<ApiKey | null>(null);

  if (keys.length === 0) {
    return (
      <EmptyState
        title="No keys yet"
        action={
          <Button variant="primary" onClick={onIssue}>
            Issue the first key
          </Button>
        }
      >
        This tenant cannot call <code>/v1</code> until it has a key.
      </EmptyState>
    );
  }
  const sorted = [...keys].sort(
    (a, b) =>
      Number(a.revoked_at !== null) - Number(b.revoked_at !== null) || b.created_at - a.created_at,
  );
  return (
    <>
      <div className="table-wrap">
        <table className="table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Key</th>
              <th>Created</th>
              <th>Last used</th>
              <th>Status</th>
              <th aria-label="Actions" />
            </tr>
          </thead>
          <tbody>
            {sorted.map((key) => (
              <tr
                key={key.id}
                className={key.revoked_at ? 'row-muted' : undefined}
                data-key-id={key.id}
              >
                <td className="cell-main">{key.name}</td>
                <td className="mono">{key.prefix}…</td>
                <td className="nowrap" title={formatDateTime(key.created_at)}>
                  {formatRelative(key.created_at)}
                </td>
                <td
                  className="nowrap"
                  title={key.last_used_at ? formatDateTime(key.last_used_at) : undefined}
                >
                  {key.last_used_at ? (
                    formatRelative(key.last_used_at)
                  ) : (
                    <span className="muted">never</span>
                  )}
                </td>
                <td>
                  {key.revoked_at ? (
                    <Badge tone="danger">revoked {formatRelative(key.revoked_at)}</Badge>
                  ) : (
                    <Badge tone="success">active</Badge>
                  )}
                </td>
                <td className="actions">
                  {!key.revoked_at && (
                    <Button
                      size="sm"
                      variant="ghost"
                      className="text-danger"
                      onClick={() => setRevoking(key)}
                    >
                      Revoke
                    </Button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke key “${revoking?.name ?? ''}”?`}
        confirmLabel="Revoke key"
        danger
        busy={revoke.isPending}
        error={revoke.error}
        onClose={() => {
          setRevoking(null);
          revoke.reset();
        }}
        onConfirm={() =>
          revoking &&
          revoke.mutate(revoking.id, {
            onSuccess: (key) => {
              setRevoking(null);
              toast(`Key ${key.prefix}… revoked`);
            },
          })
        }
      >
        Requests with <code className="mono">{revoking?.prefix}…</code> are refused with{' '}
        <code>401 invalid_api_key</code> on every instance within a second. This cannot be undone.
      </ConfirmDialog>
    </>
  );
}

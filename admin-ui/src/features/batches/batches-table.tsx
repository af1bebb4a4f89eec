import { useState } from 'react';
import { Button } from '../../components/ui/button';
import { ConfirmDialog } from '../../components/ui/confirm-dialog';
import { useToast } from '../../components/ui/toast';
import type { AdminBatch } from '../../api/types';
import { formatDateTime, formatInteger, formatRelative } from '../../lib/format';
import { BatchStatusBadge } from './batch-status-badge';
import { fileDownloadUrl, FINAL_BATCH_STATUSES, useCancelBatch } from './batches-api';

/** A tenant's batches: progress, request counts, output downloads and cancel. */
export function BatchesTable({ tenantId, batches }: { tenantId: string; batches: AdminBatch[] }) {
  const cancel = useCancelBatch(tenantId);
  const toast = useToast();
  const [cancelling, setCancelling] = useState<AdminBatch | null>(null);

  return (
    <>
      <div className="table-wrap">
        <table className="table" aria-label="Batches">
          <thead>
            <tr>
              <th>Batch</th>
              <th>Status</th>
              <th>Progress</th>
              <th>Completed</th>
              <th>Failed</th>
              <th>Created</th>
              <th aria-label="Actions" />
            </tr>
          </thead>
          <tbody>
            {batches.map((batch) => {
              const { total, completed, failed } = batch.request_counts;
              const done = completed + failed;
              return (
                <tr key={batch.id} data-batch-id={batch.id}>
                  <td className="cell-main mono">{batch.id}</td>
                  <td>
                    <BatchStatusBadge status={batch.status} />
                  </td>
                  <td className="nowrap">
                    <BatchProgress done={done} total={total} id={batch.id} />
                    <span className="muted">
                      {formatInteger(done)} / {formatInteger(total)}
                    </span>
                  </td>
                  <td data-count="completed">{formatInteger(completed)}</td>
                  <td data-count="failed">{formatInteger(failed)}</td>
                  <td className="nowrap" title={formatDateTime(batch.created_at)}>
                    {formatRelative(batch.created_at)}
                  </td>
                  <td className="actions nowrap">
                    {batch.output_file_id && (
                      <a
                        className="btn btn-ghost btn-sm"
                        href={fileDownloadUrl(batch.output_file_id)}
                        download
                      >
                        Output
                      </a>
                    )}
                    {batch.error_file_id && (
                      <a
                        className="btn btn-ghost btn-sm"
                        href={fileDownloadUrl(batch.error_file_id)}
                        download
                      >
                        Errors
                      </a>
                    )}
                    {!FINAL_BATCH_STATUSES.includes(batch.status) &&
                      batch.status !== 'cancelling' && (
                        <Button size="sm" variant="danger" onClick={() => setCancelling(batch)}>
                          Cancel
                        </Button>
                      )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <ConfirmDialog
        open={cancelling !== null}
        title="Cancel batch"
        confirmLabel="Cancel batch"
        danger
        busy={cancel.isPending}
        error={cancel.error}
        onClose={() => {
          cancel.reset();
          setCancelling(null);
        }}
        onConfirm={() =>
          cancelling &&
          cancel.mutate(cancelling.id, {
            onSuccess: () => {
              toast(`Cancelling ${cancelling.id}`);
              setCancelling(null);
            },
          })
        }
      >
        <p>
          Lines not yet started will not run; running ones finish. The batch ends cancelled, with
          what finished in its output file.
        </p>
      </ConfirmDialog>
    </>
  );
}

/** How many of a batch's lines have ended (a meter that stays neutral: full is not a warning). */
function BatchProgress({ done, total, id }: { done: number; total: number; id: string }) {
  const ratio = total > 0 ? Math.min(done / total, 1) : 0;
  return (
    <div
      className="meter meter-ok"
      role="progressbar"
      aria-label={`Progress of ${id}`}
      aria-valuemin={0}
      aria-valuemax={total}
      aria-valuenow={done}
    >
      <div className="meter-fill" style={{ width: `${ratio * 100}%` }} />
    </div>
  );
}

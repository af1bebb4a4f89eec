import { Badge } from '../../components/ui/badge';
import { Button } from '../../components/ui/button';
import { Dialog } from '../../components/ui/dialog';
import type { DeadLetter } from '../../api/types';
import { formatDateTime, formatRelative } from '../../lib/format';

/** One dead job in full: identifiers, timing, the last error and the original request. */
export function DeadLetterInspector({
  job,
  tenantName,
  busy,
  onClose,
  onRequeue,
  onDelete,
}: {
  job: DeadLetter | null;
  tenantName: string | undefined;
  busy: boolean;
  onClose: () => void;
  onRequeue: (id: string) => void;
  onDelete: (id: string) => void;
}) {
  return (
    <Dialog
      open={job !== null}
      onClose={onClose}
      wide
      title={job ? `Dead job ${job.id}` : ''}
      footer={
        job && (
          <>
            <Button variant="danger" disabled={busy} onClick={() => onDelete(job.id)}>
              Delete
            </Button>
            <Button variant="primary" busy={busy} onClick={() => onRequeue(job.id)}>
              Requeue
            </Button>
          </>
        )
      }
    >
      {job && (
        <div className="stack">
          <dl className="details">
            <div>
              <dt>Tenant</dt>
              <dd>{tenantName ?? <span className="mono">{job.tenant_id}</span>}</dd>
            </div>
            <div>
              <dt>Model</dt>
              <dd className="mono">{job.model}</dd>
            </div>
            <div>
              <dt>Retries</dt>
              <dd>
                <Badge tone="warning">{job.retries}</Badge>
              </dd>
            </div>
            <div>
              <dt>Created</dt>
              <dd>{formatDateTime(job.created_at)}</dd>
            </div>
            <div>
              <dt>Died</dt>
              <dd>
                {job.completed_at
                  ? `${formatDateTime(job.completed_at)} (${formatRelative(job.completed_at)})`
                  : '—'}
              </dd>
            </div>
          </dl>
          <section>
            <h3 className="section-title">Last error</h3>
            <pre className="code-block code-error">{job.error ?? 'No error recorded'}</pre>
          </section>
          <section>
            <h3 className="section-title">Request</h3>
            <pre className="code-block">{JSON.stringify(job.request, null, 2)}</pre>
          </section>
        </div>
      )}
    </Dialog>
  );
}

import { Button } from '../../components/ui/button';
import type { DeadLetter } from '../../api/types';
import { formatDateTime, formatRelative, shortId } from '../../lib/format';

export function DeadLettersTable({
  jobs,
  selected,
  tenantNames,
  busyIds,
  onToggle,
  onToggleAll,
  onInspect,
  onRequeue,
}: {
  jobs: DeadLetter[];
  selected: Set<string>;
  tenantNames: Map<string, string>;
  busyIds: Set<string>;
  onToggle: (id: string) => void;
  onToggleAll: () => void;
  onInspect: (job: DeadLetter) => void;
  onRequeue: (id: string) => void;
}) {
  const allSelected = jobs.length > 0 && jobs.every((job) => selected.has(job.id));
  return (
    <div className="table-wrap">
      <table className="table table-hover">
        <thead>
          <tr>
            <th className="check">
              <input
                type="checkbox"
                aria-label="Select all"
                checked={allSelected}
                onChange={onToggleAll}
              />
            </th>
            <th>Job</th>
            <th>Tenant</th>
            <th>Model</th>
            <th>Error</th>
            <th className="num">Retries</th>
            <th>Died</th>
            <th aria-label="Actions" />
          </tr>
        </thead>
        <tbody>
          {jobs.map((job) => (
            <tr
              key={job.id}
              data-job-id={job.id}
              className={selected.has(job.id) ? 'row-selected' : undefined}
            >
              <td className="check">
                <input
                  type="checkbox"
                  aria-label={`Select job ${job.id}`}
                  checked={selected.has(job.id)}
                  onChange={() => onToggle(job.id)}
                />
              </td>
              <td>
                <button type="button" className="link-button mono" onClick={() => onInspect(job)}>
                  {shortId(job.id)}
                </button>
              </td>
              <td className="nowrap">
                {tenantNames.get(job.tenant_id) ?? (
                  <span className="mono muted">{shortId(job.tenant_id)}</span>
                )}
              </td>
              <td className="mono nowrap">{job.model}</td>
              <td className="cell-error" title={job.error ?? undefined}>
                {job.error ?? <span className="muted">—</span>}
              </td>
              <td className="num">{job.retries}</td>
              <td
                className="nowrap"
                title={job.completed_at ? formatDateTime(job.completed_at) : undefined}
              >
                {job.completed_at ? formatRelative(job.completed_at) : '—'}
              </td>
              <td className="actions">
                <Button size="sm" variant="ghost" onClick={() => onInspect(job)}>
                  Inspect
                </Button>
                <Button size="sm" busy={busyIds.has(job.id)} onClick={() => onRequeue(job.id)}>
                  Requeue
                </Button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

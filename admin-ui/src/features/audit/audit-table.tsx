import type { AuditEntry } from '../../api/types';
import { Badge, type Tone } from '../../components/ui/badge';
import { formatDateTime, formatRelative, shortId } from '../../lib/format';

const tone = (action: string): Tone =>
  action === 'admin.sign_in_failed'
    ? 'danger'
    : action.endsWith('.revoked') || action.endsWith('.deleted')
      ? 'warning'
      : action.endsWith('.created') || action.endsWith('.issued')
        ? 'success'
        : 'info';

export function AuditTable({
  entries,
  tenantNames,
}: {
  entries: AuditEntry[];
  tenantNames: Map<string, string>;
}) {
  return (
    <div className="table-wrap">
      <table className="table">
        <thead>
          <tr>
            <th>When</th>
            <th>Actor</th>
            <th>Action</th>
            <th>Object</th>
            <th>Tenant</th>
            <th>Details</th>
            <th>Address</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((entry) => {
            const details = JSON.stringify(entry.details);
            return (
              <tr key={entry.id} data-audit-id={entry.id} data-action={entry.action}>
                <td className="nowrap" title={formatDateTime(entry.created_at)}>
                  {formatRelative(entry.created_at)}
                </td>
                <td className="nowrap">{entry.actor}</td>
                <td className="nowrap">
                  <Badge tone={tone(entry.action)}>{entry.action}</Badge>
                </td>
                <td className="nowrap">
                  {entry.object_type}{' '}
                  <span className="mono muted" title={entry.object_id}>
                    {shortId(entry.object_id)}
                  </span>
                </td>
                <td className="nowrap">
                  {entry.tenant_id === null ? (
                    <span className="muted">—</span>
                  ) : (
                    (tenantNames.get(entry.tenant_id) ?? (
                      <span className="mono muted">{shortId(entry.tenant_id)}</span>
                    ))
                  )}
                </td>
                <td className="cell-details mono" title={details}>
                  {details === '{}' ? <span className="muted">—</span> : details}
                </td>
                <td className="mono nowrap">{entry.address ?? <span className="muted">—</span>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

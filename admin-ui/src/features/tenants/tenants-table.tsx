import { Link } from 'react-router';
import type { Tenant } from '../../api/types';
import { formatRelative } from '../../lib/format';
import { useTenant } from './tenants-api';
import { TenantStatusBadge } from './tenant-status-badge';
import { UsageCell } from './usage-meters';

export function TenantsTable({ tenants }: { tenants: Tenant[] }) {
  return (
    <div className="table-wrap">
      <table className="table table-hover">
        <thead>
          <tr>
            <th>Tenant</th>
            <th>Status</th>
            <th>Requests this minute</th>
            <th>Tokens today</th>
            <th>Open jobs</th>
            <th>Queued jobs</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {tenants.map((tenant) => (
            <TenantRow key={tenant.id} tenant={tenant} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function TenantRow({ tenant: listed }: { tenant: Tenant }) {
  // The list may not carry usage; the tenant's own endpoint does.
  const detail = useTenant(listed.id, { enabled: listed.usage === undefined });
  const tenant = listed.usage !== undefined ? listed : (detail.data ?? listed);
  const usage = tenant.usage;
  return (
    <tr>
      <td>
        <Link className="cell-link" to={`/tenants/${tenant.id}`}>
          {tenant.name}
        </Link>
        <div className="cell-sub mono">{tenant.id}</div>
      </td>
      <td>
        <TenantStatusBadge status={tenant.status} />
      </td>
      <td>
        <UsageCell value={usage?.requests_this_minute} max={tenant.limits.rpm} />
      </td>
      <td>
        <UsageCell value={usage?.tokens_today} max={tenant.limits.tokens_per_day} />
      </td>
      <td>
        <UsageCell value={usage?.open_jobs} max={tenant.limits.max_concurrent} />
      </td>
      <td>
        <UsageCell value={usage?.queued_jobs} max={tenant.limits.max_queued} />
      </td>
      <td className="nowrap">{formatRelative(tenant.created_at)}</td>
    </tr>
  );
}

import { Link } from 'react-router';
import { EmptyState } from '../../components/ui/empty-state';
import { Meter } from '../../components/ui/meter';
import { formatInteger } from '../../lib/format';
import type { TenantLoadView } from './stats-api';

/** What the page knows of a tenant beyond its id (from the tenant list), when it knows it. */
export interface TenantLabel {
  name: string;
  maxConcurrent?: number;
  weight?: number;
}

const dash = <span className="muted">—</span>;
const byLoad = (a: TenantLoadView, b: TenantLoadView) =>
  (b.queued ?? 0) - (a.queued ?? 0) || (b.running ?? 0) - (a.running ?? 0);

/** Tenants with work: jobs waiting their turn and jobs running, busiest queue first. */
export function TenantLoadTable({
  tenants,
  labelOf,
}: {
  tenants: TenantLoadView[];
  labelOf: (id: string) => TenantLabel | undefined;
}) {
  if (tenants.length === 0) {
    return (
      <EmptyState title="No tenant has work">
        Jobs waiting for their turn and jobs at a backend show here, per tenant.
      </EmptyState>
    );
  }
  return (
    <div className="table-wrap">
      <table className="table">
        <thead>
          <tr>
            <th>Tenant</th>
            <th className="num" title="Share of the pool when tenants compete">
              Weight
            </th>
            <th className="num" title="Waiting for a slot, a node place or their retry time">
              Queued
            </th>
            <th className="num" title="At a backend now, plus open streams / max concurrent">
              Running
            </th>
          </tr>
        </thead>
        <tbody>
          {[...tenants].sort(byLoad).map((tenant) => {
            const label = labelOf(tenant.id);
            return (
              <tr key={tenant.id} data-tenant-id={tenant.id}>
                <td>
                  <Link className="cell-link" to={`/tenants/${tenant.id}`}>
                    {label?.name ?? <span className="mono">{tenant.id}</span>}
                  </Link>
                  {label && <div className="cell-sub mono">{tenant.id}</div>}
                </td>
                <td className="num">
                  {label?.weight === undefined ? dash : formatInteger(label.weight)}
                </td>
                <td className="num" data-testid="tenant-queued">
                  {tenant.queued === undefined ? dash : formatInteger(tenant.queued)}
                </td>
                <td className="num">
                  <RunningCell running={tenant.running} max={label?.maxConcurrent} />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function RunningCell({ running, max }: { running?: number; max?: number }) {
  if (running === undefined) return dash;
  if (max === undefined) return <span data-testid="tenant-running">{formatInteger(running)}</span>;
  return (
    <div className="usage-cell">
      <span>
        <span data-testid="tenant-running">{formatInteger(running)}</span>
        <span className="muted"> / {formatInteger(max)}</span>
      </span>
      <Meter value={running} max={max} label="Running jobs against max concurrent" />
    </div>
  );
}

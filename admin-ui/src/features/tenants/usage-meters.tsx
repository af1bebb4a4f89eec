import { Meter } from '../../components/ui/meter';
import { StatTile } from '../../components/ui/stat-tile';
import type { Tenant } from '../../api/types';
import { formatCompact, formatInteger } from '../../lib/format';

/** Today's usage against the tenant's limits; "—" for figures the server does not report. */
export function UsageMeters({ tenant }: { tenant: Tenant }) {
  const usage = tenant.usage;
  const rows = [
    {
      label: 'Requests this minute',
      value: usage?.requests_this_minute,
      max: tenant.limits.rpm,
    },
    { label: 'Tokens today', value: usage?.tokens_today, max: tenant.limits.tokens_per_day },
    { label: 'Open jobs', value: usage?.open_jobs, max: tenant.limits.max_concurrent },
    { label: 'Queued jobs', value: usage?.queued_jobs, max: tenant.limits.max_queued },
  ];
  return (
    <div className="tiles tiles-4">
      {rows.map((row) => (
        <StatTile
          key={row.label}
          label={row.label}
          value={row.value === undefined ? '—' : formatCompact(row.value)}
          detail={`of ${formatInteger(row.max)}`}
        >
          {row.value !== undefined && (
            <Meter
              value={row.value}
              max={row.max}
              label={`${row.label}: ${formatInteger(row.value)} of ${formatInteger(row.max)}`}
            />
          )}
        </StatTile>
      ))}
    </div>
  );
}

/** "12 / 60" with a meter, for table cells. */
export function UsageCell({ value, max }: { value: number | undefined; max: number }) {
  return (
    <div className="usage-cell">
      <span>
        {value === undefined ? <span className="muted">—</span> : formatCompact(value)}
        <span className="muted"> / {formatCompact(max)}</span>
      </span>
      {value !== undefined && <Meter value={value} max={max} label="usage" />}
    </div>
  );
}

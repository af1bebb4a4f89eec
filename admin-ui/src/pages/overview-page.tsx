import { Badge } from '../components/ui/badge';
import { Card } from '../components/ui/card';
import { ErrorBanner, Notice } from '../components/ui/error-banner';
import { PageHeader } from '../components/ui/page-header';
import { Spinner } from '../components/ui/spinner';
import { StatTile } from '../components/ui/stat-tile';
import { NodeTable } from '../features/stats/node-table';
import { QueueTiles } from '../features/stats/queue-tiles';
import { Sparkline } from '../features/stats/sparkline';
import { REFRESH_MS, useHistory, useOverview } from '../features/stats/stats-api';
import { TenantLoadTable, type TenantLabel } from '../features/stats/tenant-load-table';
import { useTenants } from '../features/tenants/tenants-api';
import { formatInteger } from '../lib/format';

const STATUS_TONE = {
  ok: 'success',
  degraded: 'warning',
  down: 'danger',
  unknown: 'neutral',
} as const;

export function OverviewPage() {
  const overview = useOverview();
  const data = overview.data;
  const history = useHistory(data?.throughput?.perSecond, overview.dataUpdatedAt);
  // Stats name tenants by id; the tenant list gives their names, limits and weights.
  const tenantList = useTenants();
  const labels = new Map<string, TenantLabel>(
    (tenantList.data ?? []).map((tenant) => [
      tenant.id,
      { name: tenant.name, maxConcurrent: tenant.limits.max_concurrent, weight: tenant.weight },
    ]),
  );

  return (
    <>
      <PageHeader
        title="Overview"
        description="Queue, throughput and backend nodes, live."
        actions={
          <span className="live" title={`Refreshes every ${REFRESH_MS / 1000} s`}>
            <span className={overview.isError ? 'live-dot live-dot-off' : 'live-dot'} />
            {overview.isError
              ? 'Not updating'
              : overview.dataUpdatedAt
                ? `Updated ${new Date(overview.dataUpdatedAt).toLocaleTimeString()}`
                : 'Connecting…'}
          </span>
        }
      />
      {overview.isError && <ErrorBanner error={overview.error} title="Could not refresh" />}
      {!data ? (
        overview.isPending && (
          <div className="loading-block">
            <Spinner label="Loading" />
          </div>
        )
      ) : (
        <div className="stack-lg">
          <div className="status-row">
            {data.status !== 'unknown' && (
              <Badge tone={STATUS_TONE[data.status]}>service {data.status}</Badge>
            )}
            {data.queue.backend && (
              <span className="muted">queue backend: {data.queue.backend}</span>
            )}
            {data.bus && (
              <span className="muted">
                bus nodes: {data.bus.healthy} of {data.bus.nodes} healthy
              </span>
            )}
            {data.pistachio && (
              <span className="muted">
                pistachio:{' '}
                {data.pistachio.configured
                  ? data.pistachio.healthy
                    ? 'healthy'
                    : 'unhealthy'
                  : 'not configured'}
              </span>
            )}
          </div>

          <Card title="Queue">
            <QueueTiles queue={data.queue} />
          </Card>

          <Card
            title="Throughput"
            description={
              data.throughput
                ? `Backend calls answered by this instance over the last ${data.throughput.windowS} s`
                : undefined
            }
          >
            {data.throughput ? (
              <div className="throughput">
                <div className="tiles tiles-3">
                  <StatTile label="Completions / s" value={data.throughput.perSecond.toFixed(2)} />
                  <StatTile
                    label="Completions"
                    value={formatInteger(data.throughput.completions)}
                  />
                  <StatTile
                    label="Errors"
                    value={formatInteger(data.throughput.errors)}
                    tone={data.throughput.errors > 0 ? 'danger' : 'neutral'}
                  />
                </div>
                <Sparkline values={history} label="Completions per second, recent history" />
              </div>
            ) : (
              <Notice>
                This server does not report throughput yet (it needs GET /admin/api/stats).
              </Notice>
            )}
          </Card>

          <Card title="Backend nodes" flush={data.nodes !== undefined && data.nodes.length > 0}>
            {data.nodes ? (
              <NodeTable nodes={data.nodes} />
            ) : (
              <Notice>
                Per-node health needs GET /admin/api/stats, which this server does not have; the
                figures above come from /health.
              </Notice>
            )}
          </Card>

          {data.tenants && (
            <Card
              title="Tenants with work"
              description="Jobs waiting for their turn and jobs running, from all instances; each tenant's share of the pool follows its weight."
              flush={data.tenants.length > 0}
            >
              <TenantLoadTable tenants={data.tenants} labelOf={(id) => labels.get(id)} />
            </Card>
          )}
        </div>
      )}
    </>
  );
}

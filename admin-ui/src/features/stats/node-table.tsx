import { Badge } from '../../components/ui/badge';
import { EmptyState } from '../../components/ui/empty-state';
import { Meter } from '../../components/ui/meter';
import { formatInteger, formatPercent } from '../../lib/format';
import type { NodeView } from './stats-api';

const dash = <span className="muted">—</span>;

export function NodeTable({ nodes }: { nodes: NodeView[] }) {
  if (nodes.length === 0) {
    return (
      <EmptyState title="No backend nodes configured">
        Set <code>BUS_NODES</code> (and optionally <code>PISTACHIO_URL</code>) to route requests.
      </EmptyState>
    );
  }
  const totalStake = nodes.reduce((sum, node) => sum + (node.stake ?? 0), 0);
  return (
    <div className="table-wrap">
      <table className="table">
        <thead>
          <tr>
            <th>Node</th>
            <th>Health</th>
            <th className="num">Stake</th>
            <th>Models</th>
            <th className="num" title="Requests at the node now, from all instances / capacity">
              In flight
            </th>
            <th className="num">Error rate</th>
            <th className="num">Latency</th>
          </tr>
        </thead>
        <tbody>
          {nodes.map((node) => (
            <tr key={node.url}>
              <td>
                <div className="cell-main mono">{node.url}</div>
                {node.provider && <div className="cell-sub">{node.provider}</div>}
                {node.lastError && node.healthy === false && (
                  <div className="cell-sub text-danger" title={node.lastError}>
                    {node.lastError}
                  </div>
                )}
              </td>
              <td>
                {node.healthy === undefined ? (
                  dash
                ) : node.healthy ? (
                  <Badge tone="success">healthy</Badge>
                ) : (
                  <Badge tone="danger">unhealthy</Badge>
                )}
              </td>
              <td className="num">
                {node.stake === undefined ? (
                  dash
                ) : (
                  <>
                    {formatInteger(node.stake)}
                    {totalStake > 0 && (
                      <div className="cell-sub">{formatPercent(node.stake / totalStake)}</div>
                    )}
                  </>
                )}
              </td>
              <td>
                {node.models === undefined || node.models === null ? (
                  dash
                ) : node.models.length === 0 ? (
                  <span className="muted">none</span>
                ) : (
                  <div className="chips">
                    {node.models.map((model) => (
                      <span key={model} className="chip">
                        {model}
                      </span>
                    ))}
                  </div>
                )}
              </td>
              <td className="num">
                {node.inFlight === undefined ? (
                  dash
                ) : node.capacity === undefined ? (
                  formatInteger(node.inFlight)
                ) : (
                  <div className="usage-cell" data-testid="node-in-flight">
                    <span>
                      {formatInteger(node.inFlight)}
                      <span className="muted"> / {formatInteger(node.capacity)}</span>
                    </span>
                    <Meter
                      value={node.inFlight}
                      max={node.capacity}
                      label={`Requests in flight at ${node.url}`}
                    />
                  </div>
                )}
              </td>
              <td className="num">
                {node.errorRate === undefined || node.errorRate === null ? (
                  dash
                ) : (
                  <span className={node.errorRate > 0.1 ? 'text-danger' : undefined}>
                    {formatPercent(node.errorRate)}
                  </span>
                )}
              </td>
              <td className="num">
                {node.latencyMs === undefined || node.latencyMs === null
                  ? dash
                  : `${formatInteger(Math.round(node.latencyMs))} ms`}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

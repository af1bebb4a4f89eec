import { Link } from 'react-router';
import { StatTile } from '../../components/ui/stat-tile';
import { formatCompact } from '../../lib/format';
import type { Overview } from './stats-api';

const show = (value: number | undefined) => (value === undefined ? '—' : formatCompact(value));

export function QueueTiles({ queue }: { queue: Overview['queue'] }) {
  return (
    <div className="tiles">
      <StatTile label="Queued" value={show(queue.queued)} detail="waiting for their turn" />
      <StatTile label="Processing" value={show(queue.processing)} detail="at a backend now" />
      <StatTile
        label="Retrying"
        value={show(queue.retrying)}
        tone={queue.retrying ? 'warning' : 'neutral'}
        detail="waiting for their next attempt"
      />
      <StatTile
        label="Complete"
        value={show(queue.complete)}
        tone="success"
        detail="kept for RESULT_TTL_S"
      />
      <StatTile
        label="Dead"
        value={show(queue.dead)}
        tone={queue.dead ? 'danger' : 'neutral'}
        detail={<Link to="/dead-letters">Open dead letters →</Link>}
      />
    </div>
  );
}

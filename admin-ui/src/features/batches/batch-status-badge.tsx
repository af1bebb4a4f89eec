import { Badge, type Tone } from '../../components/ui/badge';

const TONES: Record<string, Tone> = {
  validating: 'info',
  in_progress: 'info',
  finalizing: 'info',
  cancelling: 'warning',
  completed: 'success',
  failed: 'danger',
  expired: 'warning',
  cancelled: 'neutral',
};

export function BatchStatusBadge({ status }: { status: string }) {
  return <Badge tone={TONES[status] ?? 'neutral'}>{status.replace('_', ' ')}</Badge>;
}

import { Badge } from '../../components/ui/badge';

export function TenantStatusBadge({ status }: { status: string }) {
  return status === 'active' ? (
    <Badge tone="success">active</Badge>
  ) : (
    <Badge tone="warning">{status}</Badge>
  );
}

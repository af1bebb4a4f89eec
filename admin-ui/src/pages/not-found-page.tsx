import { Link } from 'react-router';
import { Card } from '../components/ui/card';
import { EmptyState } from '../components/ui/empty-state';
import { PageHeader } from '../components/ui/page-header';

export function NotFoundPage() {
  return (
    <>
      <PageHeader title="Page not found" />
      <Card>
        <EmptyState
          title="There is nothing at this address"
          action={<Link to="/">Go to the overview</Link>}
        />
      </Card>
    </>
  );
}

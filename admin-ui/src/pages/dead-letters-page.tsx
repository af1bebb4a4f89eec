import { useMemo, useState } from 'react';
import { useSearchParams } from 'react-router';
import type { DeadLetter } from '../api/types';
import { Button } from '../components/ui/button';
import { Card } from '../components/ui/card';
import { ConfirmDialog } from '../components/ui/confirm-dialog';
import { EmptyState } from '../components/ui/empty-state';
import { ErrorBanner } from '../components/ui/error-banner';
import { PageHeader } from '../components/ui/page-header';
import { Spinner } from '../components/ui/spinner';
import { useToast } from '../components/ui/toast';
import { DeadLetterFilterBar } from '../features/dead-letters/dead-letter-filters';
import { DeadLetterInspector } from '../features/dead-letters/dead-letter-inspector';
import { DeadLettersTable } from '../features/dead-letters/dead-letters-table';
import {
  useDeadLetters,
  useDeleteJobs,
  useRequeue,
  type BatchResult,
  type DeadLetterFilters,
} from '../features/dead-letters/dead-letters-api';
import { useTenants } from '../features/tenants/tenants-api';

export function DeadLettersPage() {
  const [params, setParams] = useSearchParams();
  const filters: DeadLetterFilters = {
    tenant: params.get('tenant') ?? '',
    model: params.get('model') ?? '',
  };
  const deadLetters = useDeadLetters(filters);
  const tenants = useTenants();
  const requeue = useRequeue();
  const remove = useDeleteJobs();
  const toast = useToast();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [inspecting, setInspecting] = useState<DeadLetter | null>(null);
  const [deleting, setDeleting] = useState<string[] | null>(null);
  const [busyIds, setBusyIds] = useState<Set<string>>(new Set());
  const [failure, setFailure] = useState<unknown>(null);

  const jobs = useMemo(
    () => deadLetters.data?.pages.flatMap((page) => page.data) ?? [],
    [deadLetters.data],
  );
  const tenantNames = useMemo(
    () => new Map((tenants.data ?? []).map((tenant) => [tenant.id, tenant.name])),
    [tenants.data],
  );
  const selectedIds = jobs.filter((job) => selected.has(job.id)).map((job) => job.id);

  const setFilters = (next: DeadLetterFilters) => {
    setSelected(new Set());
    const query = new URLSearchParams();
    if (next.tenant) query.set('tenant', next.tenant);
    if (next.model) query.set('model', next.model);
    setParams(query, { replace: true });
  };

  const report = (verb: string, result: BatchResult) => {
    const count = result.done.length;
    if (count > 0) toast(`${verb} ${count} job${count === 1 ? '' : 's'}`);
    setFailure(result.failed[0]?.error ?? null);
    setSelected((current) => new Set([...current].filter((id) => !result.done.includes(id))));
  };

  const doRequeue = (ids: string[]) => {
    setBusyIds(new Set(ids));
    requeue.mutate(ids, {
      onSuccess: (result) => {
        report('Requeued', result);
        if (inspecting && result.done.includes(inspecting.id)) setInspecting(null);
      },
      onSettled: () => setBusyIds(new Set()),
    });
  };

  const doDelete = (ids: string[]) =>
    remove.mutate(ids, {
      onSuccess: (result) => {
        report('Deleted', result);
        setDeleting(null);
        if (inspecting && result.done.includes(inspecting.id)) setInspecting(null);
      },
    });

  return (
    <>
      <PageHeader
        title="Dead letters"
        description="Jobs that exhausted their retries or met a final error. Requeued jobs start again with 0 retries."
      />
      <div className="stack-lg">
        <DeadLetterFilterBar
          filters={filters}
          tenants={(tenants.data ?? []).map(({ id, name }) => ({ id, name }))}
          onChange={setFilters}
        />
        <ErrorBanner error={failure} title="Some jobs could not be changed" />
        <ErrorBanner error={deadLetters.error} title="Could not load dead letters" />
        {selectedIds.length > 0 && (
          <div className="bulk-bar" role="region" aria-label="Selection">
            <span>
              <strong>{selectedIds.length}</strong> selected
            </span>
            <Button
              size="sm"
              variant="primary"
              busy={requeue.isPending}
              onClick={() => doRequeue(selectedIds)}
            >
              Requeue selected
            </Button>
            <Button size="sm" variant="danger" onClick={() => setDeleting(selectedIds)}>
              Delete selected
            </Button>
            <Button size="sm" variant="ghost" onClick={() => setSelected(new Set())}>
              Clear selection
            </Button>
          </div>
        )}
        <Card flush={jobs.length > 0}>
          {deadLetters.isPending ? (
            <div className="loading-block">
              <Spinner label="Loading" />
            </div>
          ) : jobs.length === 0 ? (
            <EmptyState
              title={
                filters.tenant || filters.model
                  ? 'No dead jobs match these filters'
                  : 'No dead jobs'
              }
            >
              {filters.tenant || filters.model
                ? 'Clear the filters to see every dead job.'
                : 'Every job so far has completed or is still being retried.'}
            </EmptyState>
          ) : (
            <>
              <DeadLettersTable
                jobs={jobs}
                selected={selected}
                tenantNames={tenantNames}
                busyIds={busyIds}
                onToggle={(id) =>
                  setSelected((current) => {
                    const next = new Set(current);
                    if (!next.delete(id)) next.add(id);
                    return next;
                  })
                }
                onToggleAll={() =>
                  setSelected(
                    selectedIds.length === jobs.length
                      ? new Set()
                      : new Set(jobs.map((job) => job.id)),
                  )
                }
                onInspect={setInspecting}
                onRequeue={(id) => doRequeue([id])}
              />
              {deadLetters.hasNextPage && (
                <div className="load-more">
                  <Button
                    busy={deadLetters.isFetchingNextPage}
                    onClick={() => void deadLetters.fetchNextPage()}
                  >
                    Load more
                  </Button>
                </div>
              )}
            </>
          )}
        </Card>
      </div>
      <DeadLetterInspector
        job={inspecting}
        tenantName={inspecting ? tenantNames.get(inspecting.tenant_id) : undefined}
        busy={requeue.isPending || remove.isPending}
        onClose={() => setInspecting(null)}
        onRequeue={(id) => doRequeue([id])}
        onDelete={(id) => setDeleting([id])}
      />
      <ConfirmDialog
        open={deleting !== null}
        title={
          deleting?.length === 1 ? 'Delete this job?' : `Delete ${deleting?.length ?? 0} jobs?`
        }
        confirmLabel="Delete"
        danger
        busy={remove.isPending}
        onClose={() => setDeleting(null)}
        onConfirm={() => deleting && doDelete(deleting)}
      >
        The job{deleting?.length === 1 ? '' : 's'}, {deleting?.length === 1 ? 'its' : 'their'}{' '}
        request and error are removed for good and can no longer be requeued.
      </ConfirmDialog>
    </>
  );
}

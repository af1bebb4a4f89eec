import { useState } from 'react';
import { Button } from '../../components/ui/button';
import { ConfirmDialog } from '../../components/ui/confirm-dialog';
import { useToast } from '../../components/ui/toast';
import type { Tenant } from '../../api/types';
import { useUpdateTenant } from './tenants-api';

/** Suspend (with a confirmation) or resume a tenant. */
export function TenantStatusControl({ tenant }: { tenant: Tenant }) {
  const update = useUpdateTenant(tenant.id);
  const toast = useToast();
  const [confirming, setConfirming] = useState(false);
  if (tenant.status === 'suspended') {
    return (
      <Button
        variant="primary"
        busy={update.isPending}
        onClick={() =>
          update.mutate({ status: 'active' }, { onSuccess: () => toast(`${tenant.name} resumed`) })
        }
      >
        Resume tenant
      </Button>
    );
  }
  return (
    <>
      <Button variant="danger" onClick={() => setConfirming(true)}>
        Suspend tenant
      </Button>
      <ConfirmDialog
        open={confirming}
        title={`Suspend ${tenant.name}?`}
        confirmLabel="Suspend"
        danger
        busy={update.isPending}
        error={update.error}
        onClose={() => {
          setConfirming(false);
          update.reset();
        }}
        onConfirm={() =>
          update.mutate(
            { status: 'suspended' },
            {
              onSuccess: () => {
                setConfirming(false);
                toast(`${tenant.name} suspended`);
              },
            },
          )
        }
      >
        Every key of this tenant is refused with <code>403 tenant_suspended</code> within a second,
        on every instance. Jobs already queued still run. You can resume it at any time.
      </ConfirmDialog>
    </>
  );
}

import { useState, type FormEvent } from 'react';
import { Button } from '../../components/ui/button';
import { Dialog } from '../../components/ui/dialog';
import { ErrorBanner } from '../../components/ui/error-banner';
import { Field } from '../../components/ui/field';
import { ApiError } from '../../lib/api-client';
import type { Tenant } from '../../api/types';
import { useCreateTenant } from './tenants-api';
import {
  LIMIT_FIELDS,
  validateLimits,
  validateTenantName,
  validateWeight,
  WEIGHT_FIELD,
  type LimitDrafts,
  type LimitErrors,
} from './limits-validation';

const EMPTY: LimitDrafts = { rpm: '', tokens_per_day: '', max_concurrent: '', max_queued: '' };

export function CreateTenantDialog({
  open,
  onClose,
  onCreated,
}: {
  open: boolean;
  onClose: () => void;
  onCreated: (tenant: Tenant) => void;
}) {
  const create = useCreateTenant();
  const [name, setName] = useState('');
  const [drafts, setDrafts] = useState<LimitDrafts>(EMPTY);
  const [weightDraft, setWeightDraft] = useState('');
  const [errors, setErrors] = useState<LimitErrors & { name?: string; weight?: string }>({});

  const close = () => {
    setName('');
    setDrafts(EMPTY);
    setWeightDraft('');
    setErrors({});
    create.reset();
    onClose();
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const nameError = validateTenantName(name);
    const { limits, errors: limitErrors } = validateLimits(drafts, true);
    const { weight, error: weightError } = validateWeight(weightDraft, true);
    setErrors({
      ...limitErrors,
      ...(nameError && { name: nameError }),
      ...(weightError && { weight: weightError }),
    });
    if (nameError || weightError || Object.keys(limitErrors).length > 0) return;
    create.mutate(
      {
        name: name.trim(),
        ...(Object.keys(limits).length > 0 && { limits }),
        ...(weight !== undefined && { weight }),
      },
      {
        onSuccess: (tenant) => {
          close();
          onCreated(tenant);
        },
      },
    );
  };

  // The API names the field at fault in `param` (e.g. "name" or "limits.rpm").
  const serverParam = create.error instanceof ApiError ? create.error.param : null;
  const serverError = (field: string) =>
    serverParam === field && create.error ? create.error.message : undefined;

  return (
    <Dialog
      open={open}
      onClose={close}
      title="New tenant"
      footer={
        <>
          <Button onClick={close}>Cancel</Button>
          <Button type="submit" form="create-tenant" variant="primary" busy={create.isPending}>
            Create tenant
          </Button>
        </>
      }
    >
      <form id="create-tenant" className="stack" onSubmit={submit} noValidate>
        <Field
          label="Name"
          name="name"
          autoFocus
          placeholder="acme"
          value={name}
          error={errors.name ?? serverError('name')}
          hint="Letters, digits, space and _ . -"
          onChange={(event) => setName(event.target.value)}
        />
        <fieldset className="fieldset">
          <legend>Limits and weight (leave blank for the server defaults)</legend>
          <div className="grid-3">
            {LIMIT_FIELDS.map((field) => (
              <Field
                key={field.name}
                label={field.label}
                name={field.name}
                inputMode="numeric"
                placeholder="default"
                value={drafts[field.name]}
                error={errors[field.name] ?? serverError(`limits.${field.name}`)}
                hint={field.hint}
                onChange={(event) => setDrafts({ ...drafts, [field.name]: event.target.value })}
              />
            ))}
            <Field
              label={WEIGHT_FIELD.label}
              name={WEIGHT_FIELD.name}
              inputMode="numeric"
              placeholder="default"
              value={weightDraft}
              error={errors.weight ?? serverError(WEIGHT_FIELD.name)}
              hint={WEIGHT_FIELD.hint}
              onChange={(event) => setWeightDraft(event.target.value)}
            />
          </div>
        </fieldset>
        <ErrorBanner error={create.error} />
      </form>
    </Dialog>
  );
}

import { useEffect, useState, type FormEvent } from 'react';
import { Button } from '../../components/ui/button';
import { ErrorBanner } from '../../components/ui/error-banner';
import { Field } from '../../components/ui/field';
import { useToast } from '../../components/ui/toast';
import type { Tenant } from '../../api/types';
import { ApiError } from '../../lib/api-client';
import { formatInteger } from '../../lib/format';
import { useUpdateTenant } from './tenants-api';
import {
  LIMIT_FIELDS,
  validateLimits,
  validateWeight,
  WEIGHT_FIELD,
  type LimitDrafts,
  type LimitErrors,
} from './limits-validation';

type Drafts = LimitDrafts & { weight: string };
type Errors = LimitErrors & { weight?: string };

const draftsOf = (tenant: Tenant): Drafts => ({
  rpm: String(tenant.limits.rpm),
  tokens_per_day: String(tenant.limits.tokens_per_day),
  max_concurrent: String(tenant.limits.max_concurrent),
  max_queued: String(tenant.limits.max_queued),
  weight: String(tenant.weight),
});

/** Edits a tenant's limits and weight; a change applies on every instance within a second. */
export function LimitsForm({ tenant }: { tenant: Tenant }) {
  const update = useUpdateTenant(tenant.id);
  const toast = useToast();
  const saved = draftsOf(tenant);
  const [drafts, setDrafts] = useState<Drafts>(saved);
  const [errors, setErrors] = useState<Errors>({});
  const savedKey = JSON.stringify(saved);
  useEffect(() => setDrafts(JSON.parse(savedKey) as Drafts), [savedKey]);

  const names = [...LIMIT_FIELDS.map(({ name }) => name), WEIGHT_FIELD.name] as const;
  const dirty = names.some((name) => drafts[name].trim() !== saved[name]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const { limits, errors: found } = validateLimits(drafts, false);
    const { weight, error: weightError } = validateWeight(drafts.weight, false);
    setErrors({ ...found, ...(weightError && { weight: weightError }) });
    if (Object.keys(found).length > 0 || weightError) return;
    update.mutate(
      { limits, weight },
      {
        onSuccess: (next) =>
          toast(
            `Limits saved: ${formatInteger(next.limits.rpm)} requests per minute, applied within 1 s`,
          ),
      },
    );
  };
  const serverParam = update.error instanceof ApiError ? update.error.param : null;

  return (
    <form className="stack" onSubmit={submit} noValidate aria-label="Limits">
      <div className="grid-3">
        {LIMIT_FIELDS.map((field) => (
          <Field
            key={field.name}
            label={field.label}
            name={field.name}
            inputMode="numeric"
            value={drafts[field.name]}
            hint={field.hint}
            error={
              errors[field.name] ??
              (serverParam === `limits.${field.name}` ? update.error?.message : undefined)
            }
            onChange={(event) => setDrafts({ ...drafts, [field.name]: event.target.value })}
          />
        ))}
        <Field
          label={WEIGHT_FIELD.label}
          name={WEIGHT_FIELD.name}
          inputMode="numeric"
          value={drafts.weight}
          hint={WEIGHT_FIELD.hint}
          error={
            errors.weight ?? (serverParam === WEIGHT_FIELD.name ? update.error?.message : undefined)
          }
          onChange={(event) => setDrafts({ ...drafts, weight: event.target.value })}
        />
      </div>
      <ErrorBanner error={update.error} />
      <div className="row-end">
        <Button
          disabled={!dirty || update.isPending}
          onClick={() => {
            setDrafts(saved);
            setErrors({});
            update.reset();
          }}
        >
          Reset
        </Button>
        <Button type="submit" variant="primary" busy={update.isPending} disabled={!dirty}>
          Save limits
        </Button>
      </div>
    </form>
  );
}

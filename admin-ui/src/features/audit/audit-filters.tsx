import { useEffect, useState, type FormEvent } from 'react';
import { Button } from '../../components/ui/button';
import { AUDIT_ACTIONS, type AuditFilters } from './audit-api';

export interface TenantOption {
  id: string;
  name: string;
}

const NO_FILTERS: AuditFilters = { actor: '', action: '', tenant: '' };

export function AuditFilterBar({
  filters,
  tenants,
  onChange,
}: {
  filters: AuditFilters;
  tenants: TenantOption[];
  onChange: (filters: AuditFilters) => void;
}) {
  const [actor, setActor] = useState(filters.actor);
  useEffect(() => setActor(filters.actor), [filters.actor]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onChange({ ...filters, actor: actor.trim() });
  };
  const active = filters.actor !== '' || filters.action !== '' || filters.tenant !== '';
  return (
    <form className="filter-bar" onSubmit={submit} role="search">
      <label className="filter">
        <span>Actor</span>
        <input
          name="actor"
          placeholder="email, token or cli"
          value={actor}
          onChange={(event) => setActor(event.target.value)}
          onBlur={() =>
            actor.trim() !== filters.actor && onChange({ ...filters, actor: actor.trim() })
          }
        />
      </label>
      <label className="filter">
        <span>Action</span>
        <select
          name="action"
          value={filters.action}
          onChange={(event) => onChange({ ...filters, action: event.target.value })}
        >
          <option value="">All actions</option>
          {AUDIT_ACTIONS.map((action) => (
            <option key={action} value={action}>
              {action}
            </option>
          ))}
        </select>
      </label>
      <label className="filter">
        <span>Tenant</span>
        <select
          name="tenant"
          value={filters.tenant}
          onChange={(event) => onChange({ ...filters, tenant: event.target.value })}
        >
          <option value="">All tenants</option>
          {tenants.map((tenant) => (
            <option key={tenant.id} value={tenant.id}>
              {tenant.name}
            </option>
          ))}
        </select>
      </label>
      <Button type="submit" variant="secondary">
        Apply
      </Button>
      {active && (
        <Button variant="ghost" onClick={() => onChange(NO_FILTERS)}>
          Clear filters
        </Button>
      )}
    </form>
  );
}

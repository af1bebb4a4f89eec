import { useEffect, useState, type FormEvent } from 'react';
import { Button } from '../../components/ui/button';
import type { DeadLetterFilters } from './dead-letters-api';

export interface TenantOption {
  id: string;
  name: string;
}

export function DeadLetterFilterBar({
  filters,
  tenants,
  onChange,
}: {
  filters: DeadLetterFilters;
  tenants: TenantOption[];
  onChange: (filters: DeadLetterFilters) => void;
}) {
  const [model, setModel] = useState(filters.model);
  useEffect(() => setModel(filters.model), [filters.model]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onChange({ ...filters, model: model.trim() });
  };
  const active = filters.tenant !== '' || filters.model !== '';
  return (
    <form className="filter-bar" onSubmit={submit} role="search">
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
      <label className="filter">
        <span>Model</span>
        <input
          name="model"
          placeholder="any model"
          value={model}
          onChange={(event) => setModel(event.target.value)}
          onBlur={() =>
            model.trim() !== filters.model && onChange({ ...filters, model: model.trim() })
          }
        />
      </label>
      <Button type="submit" variant="secondary">
        Apply
      </Button>
      {active && (
        <Button variant="ghost" onClick={() => onChange({ tenant: '', model: '' })}>
          Clear filters
        </Button>
      )}
    </form>
  );
}

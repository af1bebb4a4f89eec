/** At most this many deliveries to one endpoint at once, per worker process. */
export const ENDPOINT_IN_FLIGHT_MAX = 16;
/** At most this many deliveries of one tenant at once, per worker process. */
export const TENANT_IN_FLIGHT_MAX = 48;

/**
 * Counts deliveries in flight per endpoint and per tenant, so a tenant whose endpoints hang can
 * hold only a few of the worker's slots and never the ones other tenants' deliveries need.
 */
export class DeliverySlots {
  private readonly byEndpoint = new Map<string, number>();
  private readonly byTenant = new Map<string, number>();

  constructor(
    private readonly endpointMax = ENDPOINT_IN_FLIGHT_MAX,
    private readonly tenantMax = TENANT_IN_FLIGHT_MAX,
  ) {}

  /** Takes a slot for a delivery; false when the endpoint or the tenant has none free. */
  tryTake(tenantId: string, endpointId: string): boolean {
    const endpoint = this.byEndpoint.get(endpointId) ?? 0;
    const tenant = this.byTenant.get(tenantId) ?? 0;
    if (endpoint >= this.endpointMax || tenant >= this.tenantMax) return false;
    this.byEndpoint.set(endpointId, endpoint + 1);
    this.byTenant.set(tenantId, tenant + 1);
    return true;
  }

  release(tenantId: string, endpointId: string): void {
    decrement(this.byEndpoint, endpointId);
    decrement(this.byTenant, tenantId);
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const next = (counts.get(key) ?? 0) - 1;
  if (next > 0) counts.set(key, next);
  else counts.delete(key);
}

import { Injectable, type OnModuleInit } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service.js';
import { TenantsService } from '../tenants/tenants.service.js';
import { DispatchService } from './dispatch.service.js';

/** Feeds `infq_tenant_jobs` from the dispatcher's shared state, read at scrape time. */
@Injectable()
export class DispatchMetrics implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    private readonly dispatch: DispatchService,
    private readonly tenants: TenantsService,
  ) {}

  onModuleInit(): void {
    this.metrics.registerTenantGaugeSource(async () => {
      const tenants = await this.tenants.list();
      const load = await this.dispatch.load(tenants);
      return tenants.map((tenant) => ({
        tenant: tenant.name,
        queued: load.tenants[tenant.id]?.queued ?? 0,
        running: load.tenants[tenant.id]?.running ?? 0,
      }));
    });
  }
}

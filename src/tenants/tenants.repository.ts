import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import type { TransactionHook } from '../database/transaction-hook.js';
import { Tenant, TenantStatus } from './tenant.entity.js';

export interface TenantLimits {
  rpm: number;
  tokensPerDay: number;
  maxConcurrent: number;
  maxQueued: number;
  weight: number;
}

@Injectable()
export class TenantsRepository {
  constructor(@InjectRepository(Tenant) private readonly tenants: Repository<Tenant>) {}

  /** Inserts a tenant; `within` runs in the same transaction (the audit record). */
  create(name: string, limits: TenantLimits, within?: TransactionHook<Tenant>): Promise<Tenant> {
    return this.tenants.manager.transaction(async (manager) => {
      const tenant = await manager.save(
        manager.create(Tenant, { name, status: TenantStatus.Active, ...limits }),
      );
      await within?.(manager, tenant);
      return tenant;
    });
  }

  findAll(): Promise<Tenant[]> {
    return this.tenants.find({ order: { createdAt: 'ASC' } });
  }

  findById(id: string): Promise<Tenant | null> {
    return this.tenants.findOneBy({ id });
  }

  findByName(name: string): Promise<Tenant | null> {
    return this.tenants.findOneBy({ name });
  }

  /** Applies `changes`; `within` runs in the same transaction when the tenant exists. */
  update(
    id: string,
    changes: Partial<TenantLimits> & { status?: TenantStatus },
    within?: TransactionHook<Tenant>,
  ): Promise<Tenant | null> {
    return this.tenants.manager.transaction(async (manager) => {
      if (Object.keys(changes).length > 0) await manager.update(Tenant, { id }, changes);
      const tenant = await manager.findOneBy(Tenant, { id });
      if (tenant) await within?.(manager, tenant);
      return tenant;
    });
  }
}

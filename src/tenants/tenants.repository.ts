import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { Tenant, TenantStatus } from './tenant.entity.js';

export interface TenantLimits {
  rpm: number;
  tokensPerDay: number;
  maxConcurrent: number;
}

@Injectable()
export class TenantsRepository {
  constructor(@InjectRepository(Tenant) private readonly tenants: Repository<Tenant>) {}

  async create(name: string, limits: TenantLimits): Promise<Tenant> {
    return this.tenants.save(this.tenants.create({ name, status: TenantStatus.Active, ...limits }));
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

  async update(
    id: string,
    changes: Partial<TenantLimits> & { status?: TenantStatus },
  ): Promise<Tenant | null> {
    if (Object.keys(changes).length > 0) await this.tenants.update({ id }, changes);
    return this.findById(id);
  }
}

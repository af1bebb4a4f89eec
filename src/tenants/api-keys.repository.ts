import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, type Repository } from 'typeorm';
import { ApiKey } from './api-key.entity.js';
import { Tenant } from './tenant.entity.js';

export interface ApiKeyWithTenant {
  key: ApiKey;
  tenant: Tenant;
}

@Injectable()
export class ApiKeysRepository {
  constructor(@InjectRepository(ApiKey) private readonly keys: Repository<ApiKey>) {}

  create(fields: Pick<ApiKey, 'tenantId' | 'name' | 'prefix' | 'keyHash'>): Promise<ApiKey> {
    return this.keys.save(this.keys.create(fields));
  }

  listByTenant(tenantId: string): Promise<ApiKey[]> {
    return this.keys.find({ where: { tenantId }, order: { createdAt: 'ASC' } });
  }

  findById(id: string): Promise<ApiKey | null> {
    return this.keys.findOneBy({ id });
  }

  /** Marks the key revoked once; returns the key as it now stands, or null when unknown. */
  async revoke(id: string): Promise<ApiKey | null> {
    await this.keys.update({ id, revokedAt: IsNull() }, { revokedAt: () => 'now()' });
    return this.findById(id);
  }

  /** The unrevoked key with this hash and its tenant, in one query. */
  async findActiveByHash(keyHash: string): Promise<ApiKeyWithTenant | null> {
    const row = await this.keys
      .createQueryBuilder('key')
      .innerJoinAndMapOne('key.tenant', Tenant, 'tenant', 'tenant.id = key.tenantId')
      .where('key.keyHash = :keyHash AND key.revokedAt IS NULL', { keyHash })
      .getOne();
    if (!row) return null;
    const { tenant } = row as ApiKey & { tenant: Tenant };
    return { key: row, tenant };
  }

  async touchLastUsed(ids: readonly string[], at: Date): Promise<void> {
    if (ids.length === 0) return;
    await this.keys
      .createQueryBuilder()
      .update()
      .set({ lastUsedAt: at })
      .whereInIds([...ids])
      .execute();
  }
}

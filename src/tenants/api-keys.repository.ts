import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, type Repository } from 'typeorm';
import type { TransactionHook } from '../database/transaction-hook.js';
import { ApiKey } from './api-key.entity.js';
import { TENANT_CHANGES_CHANNEL, type TenantChange } from './tenant-changes.client.js';
import { Tenant } from './tenant.entity.js';

export interface ApiKeyWithTenant {
  key: ApiKey;
  tenant: Tenant;
}

@Injectable()
export class ApiKeysRepository {
  constructor(@InjectRepository(ApiKey) private readonly keys: Repository<ApiKey>) {}

  /**
   * Stores a key and, in the same transaction, tells every instance its hash: from the moment
   * the key exists, no instance takes it for an unknown one.
   */
  create(
    fields: Pick<ApiKey, 'tenantId' | 'name' | 'prefix' | 'keyHash'>,
    within?: TransactionHook<ApiKey>,
  ): Promise<ApiKey> {
    return this.keys.manager.transaction(async (manager) => {
      const key = await manager.save(manager.create(ApiKey, fields));
      await within?.(manager, key);
      const change: TenantChange = { kind: 'key_issued', keyId: key.id, keyHash: key.keyHash };
      await manager.query('SELECT pg_notify($1, $2)', [
        TENANT_CHANGES_CHANNEL,
        JSON.stringify(change),
      ]);
      return key;
    });
  }

  /** The hashes of every unrevoked key (the set an unknown key is checked against). */
  async listActiveHashes(): Promise<string[]> {
    const rows = await this.keys
      .createQueryBuilder('key')
      .select('key.keyHash', 'keyHash')
      .where('key.revokedAt IS NULL')
      .getRawMany<{ keyHash: string }>();
    return rows.map((row) => row.keyHash);
  }

  listByTenant(tenantId: string): Promise<ApiKey[]> {
    return this.keys.find({ where: { tenantId }, order: { createdAt: 'ASC' } });
  }

  findById(id: string): Promise<ApiKey | null> {
    return this.keys.findOneBy({ id });
  }

  /**
   * Marks the key revoked once; returns the key as it now stands, or null when unknown. `within`
   * runs in the same transaction, only when this call revoked it.
   */
  revoke(id: string, within?: TransactionHook<ApiKey>): Promise<ApiKey | null> {
    return this.keys.manager.transaction(async (manager) => {
      const result = await manager.update(
        ApiKey,
        { id, revokedAt: IsNull() },
        { revokedAt: () => 'now()' },
      );
      const key = await manager.findOneBy(ApiKey, { id });
      if (key && (result.affected ?? 0) > 0) await within?.(manager, key);
      return key;
    });
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

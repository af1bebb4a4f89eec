import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { AuditAction, type AuditActor } from '../audit/audit-action.js';
import { AuditService } from '../audit/audit.service.js';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import type { ApiKey } from './api-key.entity.js';
import { displayPrefix, generateApiKey, hashApiKey } from './api-key-secret.js';
import { ApiKeysRepository, type ApiKeyWithTenant } from './api-keys.repository.js';
import { TenantChangesClient } from './tenant-changes.client.js';
import { TenantsService, isUuid } from './tenants.service.js';

// last_used_at is informational: writing it at most this often keeps auth off the database.
const LAST_USED_FLUSH_MS = 5_000;

@Injectable()
export class ApiKeysService implements OnModuleDestroy {
  private readonly logger = new Logger(ApiKeysService.name);
  private readonly usedSinceFlush = new Set<string>();
  private readonly flushTimer = setInterval(() => void this.flushLastUsed(), LAST_USED_FLUSH_MS);

  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly tenants: TenantsService,
    private readonly changes: TenantChangesClient,
    private readonly audit: AuditService,
  ) {
    this.flushTimer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.flushLastUsed();
  }

  /** Issues a key; the returned `secret` is the only copy that will ever exist. */
  async issue(
    tenantId: string,
    name: string,
    by: AuditActor,
  ): Promise<{ key: ApiKey; secret: string }> {
    const tenant = await this.tenants.resolve(tenantId);
    const secret = generateApiKey();
    const key = await this.keys.create(
      { tenantId: tenant.id, name, prefix: displayPrefix(secret), keyHash: hashApiKey(secret) },
      (manager, created) =>
        this.audit.record(manager, {
          by,
          action: AuditAction.KeyIssued,
          objectType: 'api_key',
          objectId: created.id,
          tenantId: tenant.id,
          details: { name, prefix: created.prefix },
        }),
    );
    return { key, secret };
  }

  async list(tenantId: string): Promise<ApiKey[]> {
    await this.tenants.get(tenantId);
    return this.keys.listByTenant(tenantId);
  }

  async revoke(id: string, by: AuditActor): Promise<ApiKey> {
    const key = isUuid(id)
      ? await this.keys.revoke(id, (manager, revoked) =>
          this.audit.record(manager, {
            by,
            action: AuditAction.KeyRevoked,
            objectType: 'api_key',
            objectId: revoked.id,
            tenantId: revoked.tenantId,
            details: { name: revoked.name, prefix: revoked.prefix },
          }),
        )
      : null;
    if (!key) throw new AppError(ErrorCode.NotFound, `Key ${id} not found`);
    await this.changes.publish({ kind: 'key', keyId: id });
    return key;
  }

  /** Hashes of every unrevoked key, for callers that refuse unknown keys without a query. */
  listActiveHashes(): Promise<string[]> {
    return this.keys.listActiveHashes();
  }

  /** Looks a presented key up by its hash (one query; callers cache the answer). */
  findActive(secret: string): Promise<ApiKeyWithTenant | null> {
    return this.keys.findActiveByHash(hashApiKey(secret));
  }

  recordUse(keyId: string): void {
    this.usedSinceFlush.add(keyId);
  }

  private async flushLastUsed(): Promise<void> {
    if (this.usedSinceFlush.size === 0) return;
    const ids = [...this.usedSinceFlush];
    this.usedSinceFlush.clear();
    await this.keys.touchLastUsed(ids, new Date()).catch((error: Error) => {
      this.logger.warn(`could not record key use: ${error.message}`);
    });
  }
}

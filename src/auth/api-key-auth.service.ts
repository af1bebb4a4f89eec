import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import type { Subscription } from 'rxjs';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import { API_KEY_PATTERN, hashApiKey } from '../tenants/api-key-secret.js';
import { ApiKeysService } from '../tenants/api-keys.service.js';
import { TenantChangesClient } from '../tenants/tenant-changes.client.js';
import { TenantStatus } from '../tenants/tenant.entity.js';
import type { TenantPrincipal } from './tenant-principal.js';

type CachedKey = { principal: TenantPrincipal; suspended: boolean } | 'unknown';

// Bounds memory under a flood of random keys; a full cache is simply dropped.
const MAX_CACHED_KEYS = 50_000;

/**
 * Resolves `inf_` keys to tenants. Answers come from memory in the steady state; the cache is
 * dropped whenever any instance changes a tenant or key, and bypassed while that signal is down.
 */
@Injectable()
export class ApiKeyAuthService implements OnModuleDestroy {
  private readonly cache = new Map<string, CachedKey>();
  private readonly subscription: Subscription;

  constructor(
    private readonly keys: ApiKeysService,
    private readonly changes: TenantChangesClient,
  ) {
    this.subscription = this.changes.changes$.subscribe(() => this.cache.clear());
  }

  onModuleDestroy(): void {
    this.subscription.unsubscribe();
  }

  async authenticate(headers: IncomingHttpHeaders): Promise<TenantPrincipal> {
    const secret = presentedKey(headers);
    const hash = hashApiKey(secret);
    let entry = this.changes.isListening ? this.cache.get(hash) : undefined;
    if (entry === undefined) {
      entry = await this.lookUp(secret);
      if (this.changes.isListening) {
        if (this.cache.size >= MAX_CACHED_KEYS) this.cache.clear();
        this.cache.set(hash, entry);
      }
    }
    if (entry === 'unknown') {
      throw new AppError(ErrorCode.InvalidApiKey, 'Invalid API key: unknown or revoked');
    }
    if (entry.suspended) {
      throw new AppError(
        ErrorCode.TenantSuspended,
        `Tenant ${entry.principal.tenantName} is suspended`,
      );
    }
    this.keys.recordUse(entry.principal.keyId);
    return entry.principal;
  }

  private async lookUp(secret: string): Promise<CachedKey> {
    let found;
    try {
      found = await this.keys.findActive(secret);
    } catch (error) {
      throw new AppError(ErrorCode.ServiceUnavailable, 'Database unreachable', { cause: error });
    }
    if (!found) return 'unknown';
    const { key, tenant } = found;
    return {
      suspended: tenant.status === TenantStatus.Suspended,
      principal: {
        tenantId: tenant.id,
        tenantName: tenant.name,
        keyId: key.id,
        limits: {
          rpm: tenant.rpm,
          tokensPerDay: tenant.tokensPerDay,
          maxConcurrent: tenant.maxConcurrent,
        },
      },
    };
  }
}

/** The key from `Authorization: Bearer` or `X-API-Key`; both present must agree. */
export function presentedKey(headers: IncomingHttpHeaders): string {
  const authorization = single(headers.authorization);
  const headerKey = single(headers['x-api-key'])?.trim();
  let bearer: string | undefined;
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) {
      throw new AppError(ErrorCode.InvalidApiKey, 'Authorization header must be "Bearer inf_..."');
    }
    bearer = match[1];
  }
  if (bearer === undefined && !headerKey) {
    throw new AppError(
      ErrorCode.MissingApiKey,
      'Missing API key: send "Authorization: Bearer inf_..." or "X-API-Key: inf_..."',
    );
  }
  if (bearer !== undefined && headerKey && bearer !== headerKey) {
    throw new AppError(ErrorCode.InvalidApiKey, 'Authorization and X-API-Key carry different keys');
  }
  const key = (bearer ?? headerKey)!;
  if (!API_KEY_PATTERN.test(key)) {
    throw new AppError(
      ErrorCode.InvalidApiKey,
      'Malformed API key: expected "inf_" and 32+ characters',
    );
  }
  return key;
}

const single = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value[0] : value;

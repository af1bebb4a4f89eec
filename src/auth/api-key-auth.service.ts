import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import type { Subscription } from 'rxjs';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import { API_KEY_PATTERN, hashApiKey } from '../tenants/api-key-secret.js';
import { ApiKeysService } from '../tenants/api-keys.service.js';
import { TenantChangesClient, type TenantChange } from '../tenants/tenant-changes.client.js';
import { TenantStatus } from '../tenants/tenant.entity.js';
import { LruCache } from './lru-cache.js';
import type { TenantPrincipal } from './tenant-principal.js';

type CachedKey = { principal: TenantPrincipal; suspended: boolean } | 'unknown';

// Keys in use; the least recently used goes first, so a flood never evicts the busy ones.
const MAX_CACHED_KEYS = 50_000;
// Keys the database did not know, apart from the others so they cannot push real keys out. Keys
// are random and a revoked one never returns, so the ttl only bounds how long memory is held.
const MAX_UNKNOWN_KEYS = 20_000;
const UNKNOWN_KEY_TTL_MS = 60_000;
const RELOAD_RETRY_MS = 1_000;

/**
 * Resolves `inf_` keys to tenants. Answers come from memory in the steady state: a key whose hash
 * is not among the active keys' hashes is refused without a query, known keys are cached, and
 * the caches are dropped whenever any instance changes a tenant or key (and bypassed while that
 * signal is not heard).
 */
@Injectable()
export class ApiKeyAuthService implements OnModuleDestroy {
  private readonly logger = new Logger(ApiKeyAuthService.name);
  private readonly cache = new LruCache<CachedKey>(MAX_CACHED_KEYS);
  private readonly unknown = new LruCache<true>(MAX_UNKNOWN_KEYS, UNKNOWN_KEY_TTL_MS);
  /** Hashes of every unrevoked key while loaded and current; undefined means "ask the database". */
  private activeHashes: Set<string> | undefined;
  private issuedWhileLoading = new Set<string>();
  private loadGeneration = 0;
  private reloadTimer: NodeJS.Timeout | undefined;
  /** Bumped by every change: a lookup that began before one must not cache what it read. */
  private generation = 0;
  private readonly inFlight = new Map<string, { generation: number; entry: Promise<CachedKey> }>();
  private lookups = 0;
  private readonly subscription: Subscription;

  constructor(
    private readonly keys: ApiKeysService,
    private readonly changes: TenantChangesClient,
  ) {
    this.subscription = this.changes.changes$.subscribe((change) => this.onChange(change));
  }

  onModuleDestroy(): void {
    this.subscription.unsubscribe();
    clearTimeout(this.reloadTimer);
  }

  /** Key lookups sent to the database since start-up. */
  get databaseLookups(): number {
    return this.lookups;
  }

  async authenticate(headers: IncomingHttpHeaders): Promise<TenantPrincipal> {
    const secret = presentedKey(headers);
    const entry = await this.resolve(hashApiKey(secret), secret);
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

  private async resolve(hash: string, secret: string): Promise<CachedKey> {
    if (this.unknown.get(hash)) return 'unknown';
    if (this.activeHashes && !this.activeHashes.has(hash)) {
      // A key issued elsewhere a moment ago may not have been heard of yet: wait until every
      // change committed before now has arrived (one shared ping), then the set decides.
      const caughtUp = await this.changes.caughtUp();
      if (this.activeHashes && !this.activeHashes.has(hash)) {
        if (caughtUp) {
          this.unknown.set(hash, true);
          return 'unknown';
        }
        // A slow ping (a busy process) while connected: refused, not remembered. Only a key
        // issued within that moment could be wrongly refused, and only until the ping answers.
        if (this.changes.isConnected) return 'unknown';
      }
    } else if (this.changes.isListening || (await this.changes.caughtUp())) {
      // Heard from moments ago (or just now, when a busy process missed a ping): current.
      const cached = this.cache.get(hash);
      if (cached !== undefined) return cached;
    }
    // Concurrent requests with one key share one query, unless a change came in between.
    const pending = this.inFlight.get(hash);
    if (pending?.generation === this.generation) return pending.entry;
    const generation = this.generation;
    const entry = this.lookUp(secret).then((found) => {
      if (found === 'unknown') this.unknown.set(hash, true);
      // Read back only after a check like the one above, so a live connection is enough here.
      else if (generation === this.generation && this.changes.isConnected) {
        this.cache.set(hash, found);
      }
      return found;
    });
    this.inFlight.set(hash, { generation, entry });
    try {
      return await entry;
    } finally {
      if (this.inFlight.get(hash)?.entry === entry) this.inFlight.delete(hash);
    }
  }

  private onChange(change: TenantChange | 'resync'): void {
    if (change !== 'resync' && change.kind === 'key_issued') {
      // A new key invalidates nothing; it only joins the set.
      this.unknown.delete(change.keyHash);
      this.activeHashes?.add(change.keyHash);
      this.issuedWhileLoading.add(change.keyHash);
      return;
    }
    this.generation++;
    this.cache.clear();
    if (change === 'resync') {
      this.activeHashes = undefined;
      this.loadActiveHashes();
    }
  }

  private loadActiveHashes(): void {
    const load = ++this.loadGeneration;
    clearTimeout(this.reloadTimer);
    this.issuedWhileLoading = new Set();
    this.keys.listActiveHashes().then(
      (hashes) => {
        if (load !== this.loadGeneration) return;
        this.activeHashes = new Set([...hashes, ...this.issuedWhileLoading]);
      },
      (error: Error) => {
        if (load !== this.loadGeneration) return;
        this.logger.debug(`active key hashes not loaded, retrying: ${error.message}`);
        this.reloadTimer = setTimeout(() => this.loadActiveHashes(), RELOAD_RETRY_MS);
        this.reloadTimer.unref();
      },
    );
  }

  private async lookUp(secret: string): Promise<CachedKey> {
    this.lookups++;
    let found;
    try {
      found = await this.keys.findActive(secret);
    } catch (error) {
      throw new AppError(ErrorCode.ServiceUnavailable, 'Database unreachable', {
        retryAfterS: 1,
        cause: error,
      });
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
          maxQueued: tenant.maxQueued,
          weight: tenant.weight,
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

import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { hashIdempotencyKey } from './idempotency-key.js';
import type { IdempotencyClaim, IdempotencyStore } from './idempotency-store.js';

export const IDEMPOTENCY_STORE = Symbol('IDEMPOTENCY_STORE');

// Expired PostgreSQL rows are dropped this often (they are ignored as soon as they expire).
const PURGE_INTERVAL_MS = 10 * 60_000;

/**
 * Exactly-once job creation per (tenant, `Idempotency-Key`): the first claim of a key names the
 * job to create; later claims within the TTL get that job back, or a mismatch for another body.
 */
@Injectable()
export class IdempotencyService implements OnModuleDestroy {
  private readonly logger = new Logger(IdempotencyService.name);
  private readonly purgeTimer = setInterval(() => void this.purge(), PURGE_INTERVAL_MS);

  constructor(
    @Inject(IDEMPOTENCY_STORE) private readonly store: IdempotencyStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.purgeTimer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.purgeTimer);
    await this.store.close();
  }

  /**
   * Claims `key` for `candidateJobId`. `new`: create that job (and `release` the key if its
   * creation then fails); `replay`: answer with `jobId`, charge nothing; `mismatch`: 422.
   * Atomic across instances. `ttlS` defaults to `IDEMPOTENCY_TTL_S`.
   */
  claim(
    tenantId: string,
    key: string,
    bodyHash: string,
    candidateJobId: string,
    ttlS: number = this.config.idempotency.ttlS,
  ): Promise<IdempotencyClaim> {
    return this.store.claim({
      tenantId,
      keyHash: hashIdempotencyKey(key),
      bodyHash,
      jobId: candidateJobId,
      ttlMs: ttlS * 1000,
    });
  }

  /** Frees a key claimed as `new` whose job was not created (refused, or the store failed). */
  release(tenantId: string, key: string, jobId: string): Promise<void> {
    return this.store.release(tenantId, hashIdempotencyKey(key), jobId);
  }

  private async purge(): Promise<void> {
    try {
      await this.store.purgeExpired();
    } catch (error) {
      this.logger.warn(`idempotency purge failed: ${(error as Error).message}`);
    }
  }
}

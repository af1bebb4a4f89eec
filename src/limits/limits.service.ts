import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { TenantPrincipal } from '../auth/tenant-principal.js';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import type { TenantUsageDto } from '../tenants/dto/tenant.dto.js';
import type { TenantUsageReader } from '../tenants/tenant-usage.js';
import {
  msUntilUtcMidnight,
  type AdmissionClaim,
  type AdmissionRefusal,
  type LimitCounters,
  type LimitsStore,
  type SlotKind,
} from './limits-store.js';
import { rateLimitHeaders } from './rate-limit-headers.js';

export const LIMITS_STORE = Symbol('LIMITS_STORE');

/**
 * Admits requests against each tenant's rpm, tokens per day, queued jobs (jobs) and free slots
 * (streams), exactly across all instances. Running jobs' slots belong to the dispatcher.
 */
@Injectable()
export class LimitsService implements TenantUsageReader, OnApplicationShutdown {
  private readonly logger = new Logger(LimitsService.name);

  constructor(@Inject(LIMITS_STORE) private readonly store: LimitsStore) {}

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }

  /**
   * Admits a request or throws the contract's 429. Returns the `x-ratelimit-*` headers for the
   * answer and, for a job admitted with a `claim`, the node of the lease it took at once (null:
   * it waits in its list). `reservation`: the tokens its job or stream holds until it ends.
   */
  async admit(
    tenant: TenantPrincipal,
    admissionId: string,
    kind: SlotKind,
    reservation = 0,
    claim?: AdmissionClaim,
  ): Promise<{ headers: Record<string, string>; claimedNode: string | null }> {
    const result = await this.guard(() =>
      this.store.admit({
        tenantId: tenant.tenantId,
        admissionId,
        kind,
        limits: tenant.limits,
        reservation,
        ...(claim && { claim }),
      }),
    );
    const headers = rateLimitHeaders(tenant.limits, result.counters);
    if (result.admitted) return { headers, claimedNode: result.claimedNode };
    throw refusalError(result.refusal, tenant, result.counters, headers);
  }

  /** Undoes an admission whose request failed before a job or stream took it over. */
  async rollback(tenantId: string, admissionId: string): Promise<void> {
    await this.store.rollback(tenantId, admissionId).catch((error: Error) => {
      this.logger.warn({
        msg: 'could not roll back an admission',
        admissionId,
        error: error.message,
      });
    });
  }

  async usage(tenantId: string): Promise<TenantUsageDto> {
    const counters = await this.guard(() => this.store.counters(tenantId));
    return {
      requests_this_minute: counters.requestsInWindow,
      tokens_today: counters.tokensToday,
      tokens_reserved: counters.tokensReserved,
      open_jobs: counters.openSlots,
      queued_jobs: counters.queuedJobs,
    };
  }

  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw new AppError(
        ErrorCode.ServiceUnavailable,
        'Limit counters are unreachable; try again shortly',
        { retryAfterS: 1, cause: error },
      );
    }
  }
}

function refusalError(
  refusal: AdmissionRefusal,
  tenant: TenantPrincipal,
  counters: LimitCounters,
  headers: Record<string, string>,
): AppError {
  switch (refusal) {
    case 'rate_limit':
      return new AppError(
        ErrorCode.RateLimitExceeded,
        `Rate limit reached for tenant ${tenant.tenantName}: ${tenant.limits.rpm} requests per minute`,
        { retryAfterS: counters.windowResetMs / 1000, headers },
      );
    case 'daily_tokens':
      // Spent: tomorrow (UTC). Only reserved by work still open: as soon as some of it ends.
      return counters.tokensToday >= tenant.limits.tokensPerDay
        ? new AppError(
            ErrorCode.DailyTokenLimitExceeded,
            `Tenant ${tenant.tenantName} has used its ${tenant.limits.tokensPerDay} tokens for today (UTC)`,
            { retryAfterS: msUntilUtcMidnight(Date.now()) / 1000, headers },
          )
        : new AppError(
            ErrorCode.DailyTokenLimitExceeded,
            `Tenant ${tenant.tenantName} has used ${counters.tokensToday} of its ${tenant.limits.tokensPerDay} ` +
              `tokens for today (UTC) and its open requests hold ${counters.tokensReserved} more`,
            { retryAfterS: 1, headers },
          );
    case 'queue_full':
      return new AppError(
        ErrorCode.QueueFull,
        `Tenant ${tenant.tenantName} already has ${counters.queuedJobs} of ${tenant.limits.maxQueued} jobs queued`,
        { retryAfterS: 1, headers },
      );
    case 'concurrency':
      return new AppError(
        ErrorCode.ConcurrencyLimitExceeded,
        `Tenant ${tenant.tenantName} already has ${tenant.limits.maxConcurrent} jobs or streams at a backend`,
        { retryAfterS: 1, headers },
      );
  }
}

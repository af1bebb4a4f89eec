import { Global, Module, type DynamicModule } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { redisConnectionOptions } from '../config/redis-connection.js';
import { TENANT_USAGE_READER } from '../tenants/tenant-usage.js';
import type { LimitsStore } from './limits-store.js';
import { LIMITS_STORE, LimitsService } from './limits.service.js';
import { PostgresLimitsRepository } from './postgres-limits.repository.js';
import { RateLimitInterceptor } from './rate-limit.interceptor.js';
import { RedisLimitsRepository } from './redis-limits.repository.js';

@Global()
@Module({})
export class LimitsModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: LimitsModule,
      providers: [
        {
          provide: LIMITS_STORE,
          inject: [DataSource],
          // Counters live beside the queue: Redis when configured, PostgreSQL otherwise.
          useFactory: (dataSource: DataSource): LimitsStore =>
            config.redis.url
              ? new RedisLimitsRepository(
                  redisConnectionOptions(config.redis.url),
                  config.redis.prefix,
                )
              : new PostgresLimitsRepository(dataSource),
        },
        LimitsService,
        RateLimitInterceptor,
        { provide: TENANT_USAGE_READER, useExisting: LimitsService },
      ],
      exports: [LimitsService, RateLimitInterceptor, TENANT_USAGE_READER],
    };
  }
}

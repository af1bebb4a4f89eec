import { Global, Module, type DynamicModule } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { redisConnectionOptions } from '../config/redis-connection.js';
import type { IdempotencyStore } from './idempotency-store.js';
import { IdempotencyInterceptor } from './idempotency.interceptor.js';
import { IDEMPOTENCY_STORE, IdempotencyService } from './idempotency.service.js';
import { PostgresIdempotencyRepository } from './postgres-idempotency.repository.js';
import { RedisIdempotencyRepository } from './redis-idempotency.repository.js';

@Global()
@Module({})
export class IdempotencyModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: IdempotencyModule,
      providers: [
        {
          provide: IDEMPOTENCY_STORE,
          inject: [DataSource],
          // Keys live beside the queue and the limits: Redis when configured, PostgreSQL otherwise.
          useFactory: (dataSource: DataSource): IdempotencyStore =>
            config.redis.url
              ? new RedisIdempotencyRepository(
                  redisConnectionOptions(config.redis.url),
                  config.redis.prefix,
                )
              : new PostgresIdempotencyRepository(dataSource),
        },
        IdempotencyService,
        IdempotencyInterceptor,
      ],
      exports: [IdempotencyService, IdempotencyInterceptor],
    };
  }
}

import { BullModule } from '@nestjs/bullmq';
import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { runsWorker, type AppConfig } from '../config/app-config.js';
import { redisConnectionOptions } from '../config/redis-connection.js';
import { INFERENCE_QUEUE } from '../jobs/inference-queue.js';
import { DEAD_LETTER_STORE, DeadLetterCapService } from './dead-letter-cap.service.js';
import { JobRetention } from './job-retention.service.js';
import { PostgresDeadLetterRepository } from './postgres-dead-letter.repository.js';
import { RedisDeadLetterRepository } from './redis-dead-letter.repository.js';

/**
 * Bounds what ended jobs keep in the queue's store: by age (`JobRetention`) and, for dead
 * letters, by bytes per tenant (`DeadLetterCapService`).
 */
@Module({})
export class RetentionModule {
  /** Must come after `JobsModule.forRoot`, which selects the queue backend. */
  static forRoot(config: AppConfig): DynamicModule {
    const providers: Provider[] = [];
    // Jobs end in workers: an API-only process has nothing to record.
    if (runsWorker(config)) {
      providers.push(
        {
          provide: DEAD_LETTER_STORE,
          inject: [DataSource],
          // Beside the queue: Redis when configured, PostgreSQL otherwise.
          useFactory: (dataSource: DataSource) =>
            config.redis.url
              ? new RedisDeadLetterRepository(
                  redisConnectionOptions(config.redis.url),
                  config.redis.prefix,
                )
              : new PostgresDeadLetterRepository(dataSource),
        },
        DeadLetterCapService,
        JobRetention,
      );
    }
    return {
      module: RetentionModule,
      imports: [BullModule.registerQueue({ name: INFERENCE_QUEUE })],
      providers,
    };
  }
}

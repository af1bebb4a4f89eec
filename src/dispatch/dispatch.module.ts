import { BullModule } from '@nestjs/bullmq';
import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { runsWorker, type AppConfig } from '../config/app-config.js';
import { redisConnectionOptions } from '../config/redis-connection.js';
import { INFERENCE_QUEUE } from '../jobs/inference-queue.js';
import { UpstreamModule } from '../upstream/upstream.module.js';
import { TenantsModule } from '../tenants/tenants.module.js';
import { DispatchMetrics } from './dispatch-metrics.js';
import { DISPATCH_STORE, DispatchService } from './dispatch.service.js';
import { ParkedJobsReconciler } from './parked-jobs.reconciler.js';
import { PostgresDispatchRepository } from './postgres-dispatch.repository.js';
import { RedisDispatchRepository } from './redis-dispatch.repository.js';

/** Fair, capacity-aware dispatch of queued jobs; also the store behind admission. */
@Module({})
export class DispatchModule {
  /** Must come after `JobsModule.forRoot`, which selects the queue backend. */
  static forRoot(config: AppConfig): DynamicModule {
    const providers: Provider[] = [
      {
        provide: DISPATCH_STORE,
        inject: [DataSource],
        // Beside the queue: Redis when configured, PostgreSQL otherwise.
        useFactory: (dataSource: DataSource) =>
          config.redis.url
            ? new RedisDispatchRepository(
                redisConnectionOptions(config.redis.url),
                config.redis.prefix,
              )
            : new PostgresDispatchRepository(dataSource),
      },
      DispatchService,
      DispatchMetrics,
    ];
    if (runsWorker(config)) providers.push(ParkedJobsReconciler);
    return {
      module: DispatchModule,
      global: true,
      imports: [BullModule.registerQueue({ name: INFERENCE_QUEUE }), UpstreamModule, TenantsModule],
      providers,
      exports: [DispatchService, DISPATCH_STORE],
    };
  }
}

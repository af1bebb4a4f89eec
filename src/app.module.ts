import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AuthModule } from './auth/auth.module.js';
import { BatchesModule } from './batches/batches.module.js';
import { OpenAiErrorFilter } from './common/openai-error.filter.js';
import type { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { DispatchModule } from './dispatch/dispatch.module.js';
import { HealthModule } from './health/health.module.js';
import { IdempotencyModule } from './idempotency/idempotency.module.js';
import { JobsModule } from './jobs/jobs.module.js';
import { LimitsModule } from './limits/limits.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { RetentionModule } from './retention/retention.module.js';
import { TenantsModule } from './tenants/tenants.module.js';
import { UpstreamModule } from './upstream/upstream.module.js';
import { WebhooksModule } from './webhooks/webhooks.module.js';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, databaseUrl: string): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule.forRoot(databaseUrl),
        TenantsModule,
        AuthModule,
        LimitsModule,
        UpstreamModule,
        JobsModule.forRoot(config, databaseUrl),
        DispatchModule.forRoot(config),
        // After JobsModule.forRoot: registers its queue on the backend that one selects.
        WebhooksModule.forRoot(config),
        IdempotencyModule.forRoot(config),
        BatchesModule.forRoot(config),
        RetentionModule.forRoot(config),
        HealthModule,
        MetricsModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: OpenAiErrorFilter }],
    };
  }
}

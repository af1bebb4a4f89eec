import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AuthModule } from './auth/auth.module.js';
import { OpenAiErrorFilter } from './common/openai-error.filter.js';
import type { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { JobsModule } from './jobs/jobs.module.js';
import { LimitsModule } from './limits/limits.module.js';
import { TenantsModule } from './tenants/tenants.module.js';
import { UpstreamModule } from './upstream/upstream.module.js';

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
        LimitsModule.forRoot(config),
        UpstreamModule,
        JobsModule.forRoot(config, databaseUrl),
        HealthModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: OpenAiErrorFilter }],
    };
  }
}
